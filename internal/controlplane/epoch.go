package controlplane

import (
	"math/bits"
	"sort"

	"github.com/floelabs/floe/internal/protocol"
)

// nodeWeight returns each node's stake that counts in epoch e.
func (s *State) nodeWeights(e uint32) map[ObjectID]uint64 {
	w := map[ObjectID]uint64{}
	for _, st := range s.d.Stakes {
		if st.ActivationEpoch <= e && (st.WithdrawEpoch == 0 || st.WithdrawEpoch > e) {
			w[st.NodeID] += st.Amount
		}
	}
	return w
}

// changeEpoch ends the current epoch and starts the next one at block time now.
func (s *State) changeEpoch(now int64) {
	old := s.d.Epoch
	next := old + 1
	s.settleChallenges(old)
	s.payRewards(old)
	s.returnStakes(next)

	prev := s.d.Committees[old]
	c := s.selectCommittee(next, prev)
	c.StartMs = now
	s.d.Epoch = next
	s.d.EpochStart = now
	s.touchEpoch(tableCommittee, next)
	s.d.Committees[next] = c
	s.touchEpoch(tableUsed, old)
	delete(s.d.Used, old)
	s.emit(Event{Type: EventEpochChangeStart, Epoch: next})
	s.expireObjects(next)
	// The embedded and replicated drivers have no shard migration protocol on the control plane
	// yet, so the change completes at once.
	s.emit(Event{Type: EventEpochChangeDone, Epoch: next})
	s.challengeBlockBegin(now) // opens the epoch's first storage-challenge round
}

// payRewards splits epoch e's fees over e's committee by shards.
func (s *State) payRewards(e uint32) {
	bucket := s.d.Rewards[e]
	s.touchEpoch(tableRewards, e)
	s.touchEpoch(tableRewards, e+1)
	delete(s.d.Rewards, e)
	c := s.d.Committees[e]
	if bucket == 0 {
		return
	}
	if c == nil || len(c.Members) == 0 {
		s.d.Rewards[e+1] += bucket
		return
	}
	var paid uint64
	stakesByNode := map[ObjectID][]*Stake{}
	for _, id := range sortedIDs(s.d.Stakes) {
		st := s.d.Stakes[id]
		if st.ActivationEpoch <= e && (st.WithdrawEpoch == 0 || st.WithdrawEpoch > e) {
			stakesByNode[st.NodeID] = append(stakesByNode[st.NodeID], st)
		}
	}
	for _, m := range c.Members {
		share := mulDiv(bucket, uint64(len(m.Shards)), uint64(c.NShards))
		if share == 0 {
			continue
		}
		paid += share
		if s.challengeWithholdReward(m.NodeID, e, share) {
			continue // burnt: the node failed a storage challenge in e
		}
		node := s.d.Nodes[m.NodeID]
		if node == nil {
			s.d.Rewards[e+1] += share
			continue
		}
		commission := mulDiv(share, uint64(node.Commission), 10000)
		rest := share - commission
		var total uint64
		for _, st := range stakesByNode[m.NodeID] {
			total += st.Amount
		}
		var given uint64
		if total > 0 {
			for _, st := range stakesByNode[m.NodeID] {
				r := mulDiv(rest, st.Amount, total)
				if r == 0 {
					continue
				}
				given += r
				s.account(st.Owner).Balance += r
				s.emit(Event{Type: EventRewardPaid, NodeID: m.NodeID, ObjectID: st.ID, Owner: st.Owner, Amount: r, Epoch: e})
			}
		}
		if own := commission + rest - given; own > 0 {
			s.account(node.Owner).Balance += own
			s.emit(Event{Type: EventRewardPaid, NodeID: m.NodeID, Owner: node.Owner, Amount: own, Epoch: e})
		}
	}
	if bucket > paid {
		s.d.Rewards[e+1] += bucket - paid
	}
}

// returnStakes pays back stakes whose withdrawal takes effect at epoch e.
func (s *State) returnStakes(e uint32) {
	for _, id := range sortedIDs(s.d.Stakes) {
		st := s.d.Stakes[id]
		if st.WithdrawEpoch != 0 && st.WithdrawEpoch <= e {
			s.account(st.Owner).Balance += st.Amount
			s.touchID(tableStake, id)
			delete(s.d.Stakes, id)
			s.emit(Event{Type: EventStakeReturned, ObjectID: id, NodeID: st.NodeID, Owner: st.Owner, Amount: st.Amount, Epoch: e})
		}
	}
}

// expireObjects drops blobs and storage resources that ended before epoch e (one epoch of
// grace after their end epoch, so that their expiry stays visible).
func (s *State) expireObjects(e uint32) {
	n := 0
	s.commitDirty() // brings the end-epoch indexes up to date
	for _, id := range s.blobIdx.endingBefore(e) {
		b := s.d.Blobs[id]
		s.unindex(b.BlobID, id)
		s.touchID(tableBlob, id)
		delete(s.d.Blobs, id)
		n++
	}
	for _, id := range s.storageIdx.endingBefore(e) {
		s.touchID(tableStorage, id)
		delete(s.d.Storage, id)
		n++
	}
	if n > 0 {
		s.emit(Event{Type: EventObjectsExpired, Amount: uint64(n), Epoch: e})
	}
}

// selectCommittee picks epoch e's committee by stake, apportions shards and assigns them
// moving as few as possible from prev.
func (s *State) selectCommittee(e uint32, prev *Committee) *Committee {
	p := s.d.Params
	weights := s.nodeWeights(e)
	var cands []ObjectID
	for _, id := range sortedIDs(s.d.Nodes) {
		if s.challengeExcluded(id, e) {
			continue // slashed for failing storage challenges
		}
		if weights[id] >= p.MinStake && weights[id] > 0 {
			cands = append(cands, id)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return weights[cands[i]] > weights[cands[j]] })
	if len(cands) > p.MaxCommitteeSize {
		cands = cands[:p.MaxCommitteeSize]
	}
	c := &Committee{Epoch: e, NShards: p.NShards}
	if len(cands) < p.MinCommitteeSize || len(cands) == 0 {
		// Not enough eligible nodes: the previous committee carries on.
		if prev != nil {
			c.Members = append([]Member(nil), prev.Members...)
			c.StoragePrice, c.WritePrice, c.Capacity = prev.StoragePrice, prev.WritePrice, prev.Capacity
		}
		return c
	}
	sort.Slice(cands, func(i, j int) bool { return lessID(cands[i], cands[j]) })
	stakes := make([]uint64, len(cands))
	for i, id := range cands {
		stakes[i] = weights[id]
	}
	counts := Apportion(p.NShards, stakes)
	var prevShards map[ObjectID][]uint16
	if prev != nil && len(prev.Members) > 0 {
		prevShards = map[ObjectID][]uint16{}
		for _, m := range prev.Members {
			prevShards[m.NodeID] = m.Shards
		}
	}
	shards := AssignShards(p.NShards, cands, counts, prevShards)
	for i, id := range cands {
		if counts[i] == 0 {
			continue
		}
		n := s.d.Nodes[id]
		c.Members = append(c.Members, Member{NodeID: id, Name: n.Name, NetworkAddress: n.NetworkAddress,
			NetworkPublicKey: n.NetworkPublicKey, BLSPublicKey: n.BLSPublicKey, Stake: stakes[i], Shards: shards[id]})
	}
	s.setPrices(c)
	return c
}

// setPrices computes the epoch's prices and capacity from the members' votes, weighted by
// shards: prices are the "quorum below" value, capacity the "quorum above" value (spec §7.3).
func (s *State) setPrices(c *Committee) {
	type vote struct {
		v uint64
		w int
	}
	var sp, wp, cp []vote
	for _, m := range c.Members {
		n := s.d.Nodes[m.NodeID]
		w := len(m.Shards)
		sp = append(sp, vote{n.StoragePrice, w})
		wp = append(wp, vote{n.WritePrice, w})
		cp = append(cp, vote{mulDiv(n.Capacity, uint64(c.NShards), uint64(w)), w})
	}
	quorumValue := func(vs []vote, descending bool) uint64 {
		sort.SliceStable(vs, func(i, j int) bool {
			if descending {
				return vs[i].v > vs[j].v
			}
			return vs[i].v < vs[j].v
		})
		remaining := c.NShards
		for _, v := range vs {
			remaining -= v.w
			if !protocol.Quorum.Reached(remaining, c.NShards) {
				return v.v
			}
		}
		return 0
	}
	c.StoragePrice = quorumValue(sp, true)
	c.WritePrice = quorumValue(wp, true)
	c.Capacity = quorumValue(cp, false)
}

// Apportion divides n shards among stakes by largest remainder: each gets floor(n*s/S) and the
// remaining shards go to the largest remainders (ties: larger stake, then lower index). Every
// count is within one shard of its exact quota n*s/S.
func Apportion(n int, stakes []uint64) []int {
	counts := make([]int, len(stakes))
	var total uint64
	for _, st := range stakes {
		total += st
	}
	if total == 0 || len(stakes) == 0 {
		return counts
	}
	rems := make([]uint64, len(stakes))
	given := 0
	for i, st := range stakes {
		hi, lo := bits.Mul64(uint64(n), st)
		q, r := bits.Div64(hi, lo, total)
		counts[i] = int(q)
		rems[i] = r
		given += int(q)
	}
	order := make([]int, len(stakes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		i, j := order[a], order[b]
		if rems[i] != rems[j] {
			return rems[i] > rems[j]
		}
		return stakes[i] > stakes[j]
	})
	for k := 0; given < n; k++ {
		counts[order[k%len(order)]]++
		given++
	}
	return counts
}

// AssignShards gives each member (in order) counts[i] shards. Without a previous assignment
// members get consecutive ranges in order. Otherwise each member keeps its lowest previous
// shards up to its new count, and the freed shards (of shrinking or departed members, or never
// assigned) go, lowest first, to the members that need more, in order. This moves exactly the
// shards that must move.
func AssignShards(n int, members []ObjectID, counts []int, prev map[ObjectID][]uint16) map[ObjectID][]uint16 {
	out := make(map[ObjectID][]uint16, len(members))
	if prev == nil {
		next := 0
		for i, id := range members {
			sh := make([]uint16, counts[i])
			for k := range sh {
				sh[k] = uint16(next)
				next++
			}
			out[id] = sh
		}
		return out
	}
	kept := make([]bool, n)
	for i, id := range members {
		old := append([]uint16(nil), prev[id]...)
		sort.Slice(old, func(a, b int) bool { return old[a] < old[b] })
		k := min(len(old), counts[i])
		out[id] = append(make([]uint16, 0, counts[i]), old[:k]...)
		for _, sh := range old[:k] {
			kept[sh] = true
		}
	}
	var free []uint16
	for sh := 0; sh < n; sh++ {
		if !kept[sh] {
			free = append(free, uint16(sh))
		}
	}
	for i, id := range members {
		need := counts[i] - len(out[id])
		out[id] = append(out[id], free[:need]...)
		free = free[need:]
		sort.Slice(out[id], func(a, b int) bool { return out[id][a] < out[id][b] })
	}
	return out
}

// mulDiv returns a*b/c without intermediate overflow (c > 0, result must fit).
func mulDiv(a, b, c uint64) uint64 {
	if c == 0 {
		return 0
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

func mulFull(a, b uint64) (uint64, uint64) { return bits.Mul64(a, b) }
