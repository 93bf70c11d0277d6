package controlplane

import (
	"sort"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
)

// The queries answer in the wire vocabulary (api/controlplane): they are the state machine's
// edge towards the drivers and the API server.

// Status kinds of a blob ID (the wire's).
const (
	StatusNonexistent = cpapi.StatusNonexistent
	StatusInvalid     = cpapi.StatusInvalid
	StatusPermanent   = cpapi.StatusPermanent
	StatusDeletable   = cpapi.StatusDeletable
)

// Account returns an account (zero if it never existed).
func (s *State) Account(a Address) cpapi.Account {
	out := cpapi.Account{Address: cpapi.Address(a)}
	if acc := s.d.Accounts[a]; acc != nil {
		out.Balance, out.Nonce = acc.Balance, acc.Nonce
	}
	return out
}

// Node returns a registered node.
func (s *State) Node(id ObjectID) (cpapi.Node, bool) {
	if n := s.d.Nodes[id]; n != nil {
		return n.API(), true
	}
	return cpapi.Node{}, false
}

// Nodes returns every registered node, sorted by ID.
func (s *State) Nodes() []cpapi.Node {
	out := make([]cpapi.Node, 0, len(s.d.Nodes))
	for _, id := range sortedIDs(s.d.Nodes) {
		out = append(out, s.d.Nodes[id].API())
	}
	return out
}

// NodeStake returns the stake of node id that counts in epoch e.
func (s *State) NodeStake(id ObjectID, e uint32) uint64 { return s.nodeWeights(e)[id] }

// StakesOf returns the stakes owned by a, sorted by ID.
func (s *State) StakesOf(a Address) []cpapi.Stake {
	out := []cpapi.Stake{}
	for _, id := range sortedIDs(s.d.Stakes) {
		if st := s.d.Stakes[id]; st.Owner == a {
			out = append(out, st.API())
		}
	}
	return out
}

// Committee returns the committee of epoch e, if recorded.
func (s *State) Committee(e uint32) (*cpapi.Committee, bool) {
	c := s.d.Committees[e]
	if c == nil {
		return nil, false
	}
	out := c.API()
	return &out, true
}

// ReadCommittees returns the current committee and, while the change to the current epoch
// is in progress, the previous one (false if there is no current committee).
func (s *State) ReadCommittees() (*cpapi.ReadCommittees, bool) {
	cur := s.d.Committees[s.d.Epoch]
	if cur == nil {
		return nil, false
	}
	out := &cpapi.ReadCommittees{Current: cur.API()}
	if ec := s.EpochChange(); ec != nil {
		out.State = ec.State
	}
	if prev := s.d.Committees[s.d.Epoch-1]; s.d.Epoch > 0 && prev != nil && out.State == cpapi.EpochStateChangeSync {
		p := prev.API()
		out.Previous = &p
	}
	return out, true
}

// Prices returns the current prices.
func (s *State) Prices() cpapi.Prices {
	p := cpapi.Prices{Epoch: s.d.Epoch, Used: s.d.Used[s.d.Epoch]}
	if c := s.d.Committees[s.d.Epoch]; c != nil {
		p.StoragePrice, p.WritePrice, p.Capacity = c.StoragePrice, c.WritePrice, c.Capacity
	}
	return p
}

// Blob returns a blob object.
func (s *State) Blob(id ObjectID) (cpapi.Blob, bool) {
	if b := s.d.Blobs[id]; b != nil {
		return b.API(), true
	}
	return cpapi.Blob{}, false
}

// blobsByID returns the records of the blob objects registered for a blob ID, sorted by
// object ID.
func (s *State) blobsByID(bid blob.ID) []*Blob {
	ids := make([]ObjectID, 0, len(s.byBlobID[bid]))
	for id := range s.byBlobID[bid] {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	out := make([]*Blob, len(ids))
	for i, id := range ids {
		out[i] = s.d.Blobs[id]
	}
	return out
}

// BlobsByID returns the blob objects registered for a blob ID (live or in their grace epoch),
// sorted by object ID.
func (s *State) BlobsByID(bid blob.ID) []cpapi.Blob {
	recs := s.blobsByID(bid)
	out := make([]cpapi.Blob, len(recs))
	for i, b := range recs {
		out[i] = b.API()
	}
	return out
}

// BlobStatus returns the status of a blob ID at the current epoch: Invalid if marked invalid;
// Permanent if a live permanent object exists (with the latest end epoch, preferring certified
// ones); Deletable if only deletable objects live; Nonexistent otherwise.
func (s *State) BlobStatus(bid blob.ID) cpapi.BlobStatus {
	st := cpapi.BlobStatus{Status: StatusNonexistent, BlobID: bid}
	if e, bad := s.d.Invalid[bid]; bad {
		st.Status, st.InvalidEpoch = StatusInvalid, e
		return st
	}
	var perm *Blob
	for _, b := range s.blobsByID(bid) {
		if b.Storage.End <= s.d.Epoch {
			continue
		}
		if b.Certified && (st.InitialCertifiedEpoch == nil || b.CertifiedEpoch < *st.InitialCertifiedEpoch) {
			e := b.CertifiedEpoch
			st.InitialCertifiedEpoch = &e
		}
		if b.Deletable {
			st.DeletableCounts.Total++
			if b.Certified {
				st.DeletableCounts.Certified++
			}
			continue
		}
		if perm == nil || (b.Certified && !perm.Certified) ||
			(b.Certified == perm.Certified && b.Storage.End > perm.Storage.End) {
			perm = b
		}
	}
	switch {
	case perm != nil:
		st.Status, st.EndEpoch, st.IsCertified, st.ObjectID = StatusPermanent, perm.Storage.End, perm.Certified, cpapi.ObjectID(perm.ID)
	case st.DeletableCounts.Total > 0:
		st.Status = StatusDeletable
	}
	return st
}

// OwnedBy returns the storage resources and blobs owned by a, sorted by object ID.
func (s *State) OwnedBy(a Address) cpapi.Owned {
	out := cpapi.Owned{Storage: []cpapi.Storage{}, Blobs: []cpapi.Blob{}}
	for _, id := range s.storageIdx.ownedBy(a) {
		out.Storage = append(out.Storage, s.d.Storage[id].API())
	}
	for _, id := range s.blobIdx.ownedBy(a) {
		out.Blobs = append(out.Blobs, s.d.Blobs[id].API())
	}
	return out
}

// Storage returns a storage resource.
func (s *State) Storage(id ObjectID) (cpapi.Storage, bool) {
	if st := s.d.Storage[id]; st != nil {
		return st.API(), true
	}
	return cpapi.Storage{}, false
}

// Info returns the system summary (the AppHash is left zero; drivers fill in the last block's).
func (s *State) Info() cpapi.Info {
	i := cpapi.Info{Params: s.d.Params.API(), Height: s.d.Height, TimeMs: s.d.TimeMs, Epoch: s.d.Epoch,
		EpochStartMs: s.d.EpochStart, NextEpochMs: s.d.EpochStart + s.d.Params.EpochDurationMs,
		Prices: s.Prices(), RegisteredNode: len(s.d.Nodes), EventSeq: s.d.EventSeq}
	if c := s.d.Committees[s.d.Epoch]; c != nil {
		i.CommitteeSize = len(c.Members)
	}
	i.RewardPool = s.d.Rewards[s.d.Epoch]
	if t := s.d.ChallengeTotals; t != nil {
		i.RewardsBurnt, i.StakeSlashed = t.RewardsBurnt, t.StakeSlashed
	}
	i.EpochChange = s.EpochChange()
	i.VotingEndMs = s.d.EpochStart + s.d.Params.EpochDurationMs/2
	i.NextCommitteeSelected = s.nextSelected()
	return i
}

// EpochChange returns the state of the change to the current epoch (nil in epoch 0).
func (s *State) EpochChange() *cpapi.EpochChange {
	c := s.d.Committees[s.d.Epoch]
	if c == nil {
		return nil
	}
	ec := &cpapi.EpochChange{Epoch: s.d.Epoch, StartMs: s.d.EpochStart, Done: []cpapi.ObjectID{}, Pending: []cpapi.ObjectID{},
		DeadlineMs: s.d.EpochStart + s.d.Params.EpochDurationMs}
	es := s.d.EpochSyncs[s.d.Epoch]
	for _, m := range c.Members {
		if es == nil || es.isDone(m.NodeID) {
			ec.Done = append(ec.Done, cpapi.ObjectID(m.NodeID))
			ec.DoneShards += len(m.Shards)
		} else {
			ec.Pending = append(ec.Pending, cpapi.ObjectID(m.NodeID))
		}
	}
	switch {
	case s.nextSelected():
		ec.State = cpapi.EpochStateNextParamsSelected
	case es == nil || es.Completed:
		ec.State = cpapi.EpochStateChangeDone
	default:
		ec.State = cpapi.EpochStateChangeSync
	}
	if es != nil && es.Completed {
		ec.DoneMs, ec.Forced = es.DoneMs, es.Forced
	}
	if es != nil {
		for _, h := range es.Unsynced {
			ec.Unsynced = append(ec.Unsynced, cpapi.ShardHandover{Shard: h.Shard, Owner: cpapi.ObjectID(h.Owner), From: cpapi.ObjectID(h.From)})
		}
	}
	return ec
}

// NodeInfo returns a registered node with its status, stake and shards now and next.
func (s *State) NodeInfo(id ObjectID) (cpapi.NodeInfo, bool) {
	n := s.d.Nodes[id]
	if n == nil {
		return cpapi.NodeInfo{}, false
	}
	next := s.d.Epoch + 1
	out := cpapi.NodeInfo{Node: n.API(), Stake: s.nodeWeights(s.d.Epoch)[id], NextStake: s.nodeWeights(next)[id],
		Shards: []uint16{}, Stakes: []cpapi.Stake{}}
	cur := s.d.Committees[s.d.Epoch]
	inCur := cur != nil && cur.MemberIndex(id) >= 0
	if inCur {
		out.Shards = append(out.Shards, cur.ShardsOf(id)...)
		es := s.d.EpochSyncs[s.d.Epoch]
		out.SyncDone = es == nil || es.isDone(id)
	}
	var inNext bool
	if nc := s.d.Committees[next]; nc != nil {
		inNext = nc.MemberIndex(id) >= 0
		out.NextShards = append([]uint16{}, nc.ShardsOf(id)...)
	} else {
		inNext = out.NextStake >= s.d.Params.MinStake && out.NextStake > 0
	}
	switch {
	case inCur && inNext:
		out.Status = cpapi.NodeStatusActive
	case inCur:
		out.Status = cpapi.NodeStatusLeaving
	case inNext:
		out.Status = cpapi.NodeStatusJoining
	default:
		out.Status = cpapi.NodeStatusInactive
	}
	for _, sid := range sortedIDs(s.d.Stakes) {
		if st := s.d.Stakes[sid]; st.NodeID == id {
			out.Stakes = append(out.Stakes, st.API())
		}
	}
	return out, true
}

// Cost returns, at the current prices, the encoded length of a blob of size bytes, the cost of
// storing it for epochs epochs and its write fee.
func (s *State) Cost(size uint64, epochs uint32) (encoded, storage, write uint64, err error) {
	encoded, err = s.EncodedLength(size)
	if err != nil {
		return 0, 0, 0, err
	}
	c, err := s.committee()
	if err != nil {
		return 0, 0, 0, err
	}
	if storage, err = mul3(c.StoragePrice, units(encoded), uint64(epochs)); err != nil {
		return 0, 0, 0, err
	}
	if write, err = mul3(c.WritePrice, units(encoded), 1); err != nil {
		return 0, 0, 0, err
	}
	return encoded, storage, write, nil
}

// Stake returns a stake object.
func (s *State) Stake(id ObjectID) (cpapi.Stake, bool) {
	if st := s.d.Stakes[id]; st != nil {
		return st.API(), true
	}
	return cpapi.Stake{}, false
}

// ListBlobs returns the blob objects (live or in their grace epoch) and the invalid blob IDs
// recorded in the commitment's buckets from cursor on, at least limit of them unless the
// buckets run out, whole buckets at a time; next is the cursor of the following page, or -1
// after the last. A listing of every page sees every record that existed throughout it; each
// page is read at one state.
func (s *State) ListBlobs(cursor, limit int) (blobs []cpapi.Blob, invalid []cpapi.InvalidBlob, next int) {
	blobs, invalid = []cpapi.Blob{}, []cpapi.InvalidBlob{}
	if cursor < 0 {
		return blobs, invalid, -1
	}
	for b := cursor; b < nBuckets; b++ {
		for _, l := range s.c.buckets[b] {
			var id [32]byte
			copy(id[:], l.key[1:])
			switch l.key[0] {
			case tableBlob:
				if r := s.d.Blobs[ObjectID(id)]; r != nil {
					blobs = append(blobs, r.API())
				}
			case tableInvalid:
				if e, ok := s.d.Invalid[blob.ID(id)]; ok {
					invalid = append(invalid, cpapi.InvalidBlob{BlobID: blob.ID(id), Epoch: e})
				}
			}
		}
		if len(blobs)+len(invalid) >= limit {
			if b+1 == nBuckets {
				return blobs, invalid, -1
			}
			return blobs, invalid, b + 1
		}
	}
	return blobs, invalid, -1
}
