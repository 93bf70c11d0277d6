package controlplane

import (
	"fmt"
	"math/bits"
	"slices"
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

// The epoch change protocol (spec §7.4), driven by block time. In epoch e, started at T with
// duration D:
//
//   - T: EpochChangeStart(e). The committee of e accepts writes at once; its members that
//     gained shards fetch them from the previous owners (sync_shard, else recovery) and report
//     EpochSyncDone. Members that gained no shard count as done at once.
//   - When members holding a quorum of the shards are done: EpochChangeDone(e). Reads of
//     older blobs no longer need the previous committee. A node that lost a shard deletes it
//     once the change is done and the shard's new owner reported holding it (the shard left
//     EpochSync.Unsynced): a new owner that is down past EpochChangeDone, or past the whole
//     epoch, still finds the shard where it was. A shard whose owner never reported stays
//     unsynced into the next epoch (its owner must report there, even if it gained nothing
//     new), and a new owner of it takes it from the last owner that held it.
//   - Voting end, at T + D/2 or when EpochChangeDone(e) comes if later: the committee, prices
//     and capacity of e+1 are selected (EpochParametersSelected), so nodes can prepare.
//   - T + D, once e+1's committee is selected: the change to e+1 starts.
//
// The escape: a change that no quorum ever reports done would stop the epochs. At T + D the
// change is declared done without the quorum (EpochChangeDone with Forced set); the members
// still fetching keep fetching (recovery gets them what the previous owners no longer serve),
// and voting end and the next change follow in the same block.
//
// advanceEpoch runs the steps due at block time now, before the block's transactions.
func (s *State) advanceEpoch(now int64) {
	d := s.d.Params.EpochDurationMs
	if es := s.d.EpochSyncs[s.d.Epoch]; es != nil && !es.Completed && now >= s.d.EpochStart+d {
		s.completeEpochSync(es, now, true)
	}
	if !s.nextSelected() && s.epochSyncCompleted() && now >= s.d.EpochStart+d/2 {
		s.votingEnd()
	}
	if s.nextSelected() && now >= s.d.EpochStart+d {
		s.changeEpoch(now)
	}
}

// epochDueMs returns the block time of the next epoch step due without a transaction: voting
// end, or the epoch change (or its escape).
func (s *State) epochDueMs() int64 {
	d := s.d.Params.EpochDurationMs
	if !s.nextSelected() && s.epochSyncCompleted() {
		return s.d.EpochStart + d/2
	}
	return s.d.EpochStart + d
}

// nextSelected reports whether the next epoch's committee was selected (voting ended).
func (s *State) nextSelected() bool { return s.d.Committees[s.d.Epoch+1] != nil }

// selectedThrough is the last epoch whose committee is selected: stake changes made now count
// from the epoch after it.
func (s *State) selectedThrough() uint32 {
	if s.nextSelected() {
		return s.d.Epoch + 1
	}
	return s.d.Epoch
}

// epochSyncCompleted reports whether the change to the current epoch is done (or had nothing
// to do).
func (s *State) epochSyncCompleted() bool {
	es := s.d.EpochSyncs[s.d.Epoch]
	return es == nil || es.Completed
}

// votingEnd selects the next epoch's committee, prices and capacity.
func (s *State) votingEnd() {
	next := s.d.Epoch + 1
	c := s.selectCommittee(next, s.d.Committees[s.d.Epoch])
	s.touchEpoch(tableCommittee, next)
	s.d.Committees[next] = c
	s.emit(Event{Type: EventEpochParametersSelected, Epoch: next, Amount: uint64(len(c.Members))})
}

// changeEpoch ends the current epoch and starts the next one at block time now. Its steps run
// in this order: the ending epoch's rewards (payRewards: the place for anything that settles an
// epoch's accounts), stakes withdrawn, the new committee (selected at voting end, or now if
// none was: at genesis), expiries, the CometBFT validator set, and the state of the shard
// takeover.
func (s *State) changeEpoch(now int64) {
	old := s.d.Epoch
	next := old + 1
	s.settleChallenges(old)
	s.payRewards(old)
	s.returnStakes(next)

	prev := s.d.Committees[old]
	c := s.d.Committees[next]
	if c == nil || s.hasExcludedMember(c) {
		// None selected (genesis), or the settlement of the ending epoch's challenges left a
		// selected member out: select again, without it.
		c = s.selectCommittee(next, prev)
	}
	s.refreshMembers(c)
	c.StartMs = now
	s.d.Epoch = next
	s.d.EpochStart = now
	s.touchEpoch(tableCommittee, next)
	s.d.Committees[next] = c
	s.touchEpoch(tableUsed, old)
	delete(s.d.Used, old)
	before := s.d.EpochSyncs[old]
	s.touchEpoch(tableEpochSync, old)
	delete(s.d.EpochSyncs, old)
	s.emit(Event{Type: EventEpochChangeStart, Epoch: next})
	s.expireObjects(next)
	s.updateValidators(c)
	s.startEpochSync(c, prev, before, now)
	s.challengeBlockBegin(now) // opens the epoch's first storage-challenge round
}

// hasExcludedMember reports whether a member of c is excluded from c's epoch (storage
// challenges decide that when the epoch before it ends, after its voting end).
func (s *State) hasExcludedMember(c *Committee) bool {
	for _, m := range c.Members {
		if s.challengeExcluded(m.NodeID, c.Epoch) {
			return true
		}
	}
	return false
}

// refreshMembers copies the members' current node records (name, addresses, keys) into the
// committee: changes made after voting end take effect at the epoch change.
func (s *State) refreshMembers(c *Committee) {
	for i := range c.Members {
		m := &c.Members[i]
		if n := s.d.Nodes[m.NodeID]; n != nil {
			m.Name, m.NetworkAddress, m.NetworkPublicKey, m.BLSPublicKey = n.Name, n.NetworkAddress, n.NetworkPublicKey, n.BLSPublicKey
		}
	}
}

// handovers returns the shards of c whose owner must report holding them: the shards each
// member gained from prev (from their owner in prev, or from where that owner was still to
// take them from if it never reported them), and the shards still unsynced in before whose
// owner did not change. Nothing is handed over to the first committee.
func handovers(c, prev *Committee, before *EpochSync) []ShardHandover {
	if prev == nil || len(prev.Members) == 0 {
		return nil
	}
	prevOwner := map[uint16]ObjectID{}
	for _, m := range prev.Members {
		for _, sh := range m.Shards {
			prevOwner[sh] = m.NodeID
		}
	}
	pending := map[uint16]ShardHandover{}
	if before != nil {
		for _, h := range before.Unsynced {
			pending[h.Shard] = h
		}
	}
	var out []ShardHandover
	for _, m := range c.Members {
		for _, sh := range m.Shards {
			h, unsynced := pending[sh]
			po, had := prevOwner[sh]
			switch {
			case had && po == m.NodeID && !unsynced:
				continue // kept, and held
			case had && po == m.NodeID:
				out = append(out, h) // kept, still not reported
			case unsynced && h.From != (ObjectID{}):
				out = append(out, ShardHandover{Shard: sh, Owner: m.NodeID, From: h.From})
			default:
				out = append(out, ShardHandover{Shard: sh, Owner: m.NodeID, From: po})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return out
}

// startEpochSync records the takeover of c's shards: the shards handed over, and the members
// with none to take (done at once).
func (s *State) startEpochSync(c *Committee, prev *Committee, before *EpochSync, now int64) {
	es := &EpochSync{Epoch: c.Epoch, StartMs: now, Done: []ObjectID{}, Unsynced: handovers(c, prev, before)}
	taking := map[ObjectID]bool{}
	for _, h := range es.Unsynced {
		taking[h.Owner] = true
	}
	for i := range c.Members {
		m := &c.Members[i]
		if !taking[m.NodeID] {
			es.Done = append(es.Done, m.NodeID)
			es.DoneShards += len(m.Shards)
		}
	}
	sortIDs(es.Done)
	s.touchEpoch(tableEpochSync, c.Epoch)
	s.d.EpochSyncs[c.Epoch] = es
	if len(c.Members) == 0 || protocol.Quorum.Reached(es.DoneShards, c.NShards) {
		s.completeEpochSync(es, now, false)
	}
}

// completeEpochSync emits EpochChangeDone for es.
func (s *State) completeEpochSync(es *EpochSync, now int64, forced bool) {
	s.touchEpoch(tableEpochSync, es.Epoch)
	es.Completed, es.DoneMs, es.Forced = true, now, forced
	s.emit(Event{Type: EventEpochChangeDone, Epoch: es.Epoch, Size: uint64(es.DoneShards), Forced: forced})
}

// checkEpochSyncDone checks a member's report for the current epoch: its epoch, that the node
// is a member that has not reported yet, and its BLS signature.
func (s *State) checkEpochSyncDone(op *EpochSyncDoneOp) (*EpochSync, *Member, error) {
	if op.Epoch != s.d.Epoch {
		return nil, nil, fmt.Errorf("%w: report for epoch %d, current %d", ErrWrongEpoch, op.Epoch, s.d.Epoch)
	}
	es := s.d.EpochSyncs[op.Epoch]
	c := s.d.Committees[op.Epoch]
	if es == nil || c == nil {
		return nil, nil, fmt.Errorf("%w: no epoch change recorded for epoch %d", ErrEpochSync, op.Epoch)
	}
	i := c.MemberIndex(op.NodeID)
	if i < 0 {
		return nil, nil, fmt.Errorf("%w: node %s is not a member of epoch %d's committee", ErrEpochSync, op.NodeID, op.Epoch)
	}
	if es.isDone(op.NodeID) {
		return nil, nil, fmt.Errorf("%w: node %s is already done in epoch %d", ErrEpochSync, op.NodeID, op.Epoch)
	}
	m := &c.Members[i]
	if err := protocol.VerifyEpochSyncDone(m.BLSPublicKey, op.Epoch, op.NodeID, op.Signature); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrEpochSync, err)
	}
	return es, m, nil
}

// epochSyncDone records a member's report; the change is done when a quorum of shards is.
// Reports after that are still recorded (they show who finished).
func (s *State) epochSyncDone(op *EpochSyncDoneOp) error {
	es, m, err := s.checkEpochSyncDone(op)
	if err != nil {
		return err
	}
	s.touchEpoch(tableEpochSync, es.Epoch)
	es.Done = append(es.Done, m.NodeID)
	sortIDs(es.Done)
	es.DoneShards += len(m.Shards)
	es.Unsynced = slices.DeleteFunc(es.Unsynced, func(h ShardHandover) bool { return h.Owner == m.NodeID })
	if len(es.Unsynced) == 0 {
		es.Unsynced = nil
	}
	s.emit(Event{Type: EventEpochSyncDone, NodeID: m.NodeID, Epoch: es.Epoch, Size: uint64(es.DoneShards)})
	if !es.Completed && protocol.Quorum.Reached(es.DoneShards, s.d.Params.NShards) {
		s.completeEpochSync(es, s.d.TimeMs, false)
	}
	return nil
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
			continue // burnt (the node failed a storage challenge in e) or held (a round is pending)
		}
		s.payShare(m.NodeID, e, share, stakesByNode[m.NodeID])
	}
	if bucket > paid {
		s.d.Rewards[e+1] += bucket - paid
	}
}

// payShare pays node's share of epoch e's rewards: its commission to its owner, the rest to
// the stakes (active in e) in proportion, what rounding leaves to the owner. A share of a node
// that no longer exists goes to the next epoch's rewards.
func (s *State) payShare(id ObjectID, e uint32, share uint64, stakes []*Stake) {
	node := s.d.Nodes[id]
	if node == nil {
		s.d.Rewards[s.d.Epoch+1] += share
		return
	}
	commission := mulDiv(share, uint64(node.Commission), 10000)
	rest := share - commission
	var total uint64
	for _, st := range stakes {
		total += st.Amount
	}
	var given uint64
	if total > 0 {
		for _, st := range stakes {
			r := mulDiv(rest, st.Amount, total)
			if r == 0 {
				continue
			}
			given += r
			s.account(st.Owner).Balance += r
			s.emit(Event{Type: EventRewardPaid, NodeID: id, ObjectID: st.ID, Owner: st.Owner, Amount: r, Epoch: e})
		}
	}
	if own := commission + rest - given; own > 0 {
		s.account(node.Owner).Balance += own
		s.emit(Event{Type: EventRewardPaid, NodeID: id, Owner: node.Owner, Amount: own, Epoch: e})
	}
}

// payNodeShare pays node's share of epoch e's rewards later than e's end (a reward held while
// a storage challenge was pending), to the stakes with it that were active in e and still
// exist (a stake withdrawn since was paid back at the epoch change: its part goes to the
// node's owner).
func (s *State) payNodeShare(id ObjectID, e uint32, share uint64) {
	if share == 0 {
		return
	}
	var stakes []*Stake
	for _, sid := range sortedIDs(s.d.Stakes) {
		st := s.d.Stakes[sid]
		if st.NodeID == id && st.ActivationEpoch <= e && (st.WithdrawEpoch == 0 || st.WithdrawEpoch > e) {
			stakes = append(stakes, st)
		}
	}
	s.payShare(id, e, share, stakes)
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

// Apportion divides n shards among stakes by largest remainder under the per-node cap of
// spec §7.4 (ShardCap): each gets floor(n*s/S) and the remaining shards go to the largest
// remainders (ties: larger stake, then lower index). A stake whose count would exceed the cap
// gets the cap, and the other stakes share the rest the same way (again, until no count
// exceeds the cap). Every uncapped count is within one shard of its exact quota of what the
// capped ones left.
func Apportion(n int, stakes []uint64) []int {
	counts := make([]int, len(stakes))
	positive := 0
	for _, st := range stakes {
		if st > 0 {
			positive++
		}
	}
	if n <= 0 || positive == 0 {
		return counts
	}
	limit := ShardCap(n, positive)
	capped := make([]bool, len(stakes))
	for {
		rest := n
		var idx []int
		var sub []uint64
		for i, st := range stakes {
			if capped[i] {
				rest -= limit
			} else {
				idx = append(idx, i)
				sub = append(sub, st)
			}
		}
		got := largestRemainder(rest, sub)
		over := false
		for j, i := range idx {
			if got[j] > limit {
				capped[i], over = true, true
			}
		}
		if !over {
			for j, i := range idx {
				counts[i] = got[j]
			}
			for i := range counts {
				if capped[i] {
					counts[i] = limit
				}
			}
			return counts
		}
	}
}

// ShardCap is the most shards one node may get when n shards are apportioned among nodes
// (with stake), spec §7.4: n/10 once there are at least 20 nodes, else ceil(20n / (10 nodes));
// never less than ceil(n / nodes), so that the shards always fit.
func ShardCap(n, nodes int) int {
	if nodes <= 0 {
		return n
	}
	limit := (2*n + nodes - 1) / nodes
	if nodes >= 20 {
		limit = n / 10
	}
	return max(limit, (n+nodes-1)/nodes)
}

// largestRemainder divides n shards among stakes in proportion by largest remainder (ties:
// larger stake, then lower index). Every count is within one shard of its exact quota.
func largestRemainder(n int, stakes []uint64) []int {
	counts := make([]int, len(stakes))
	var total uint64
	for _, st := range stakes {
		total += st
	}
	if total == 0 || len(stakes) == 0 || n <= 0 {
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
