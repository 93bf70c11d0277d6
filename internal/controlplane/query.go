package controlplane

import (
	"sort"

	"github.com/floelabs/floe/blob"
)

// Account returns an account (zero if it never existed).
func (s *State) Account(a Address) Account {
	if acc := s.d.Accounts[a]; acc != nil {
		return *acc
	}
	return Account{}
}

// Node returns a registered node.
func (s *State) Node(id ObjectID) (Node, bool) {
	if n := s.d.Nodes[id]; n != nil {
		return *n, true
	}
	return Node{}, false
}

// Nodes returns every registered node, sorted by ID.
func (s *State) Nodes() []Node {
	out := make([]Node, 0, len(s.d.Nodes))
	for _, id := range sortedIDs(s.d.Nodes) {
		out = append(out, *s.d.Nodes[id])
	}
	return out
}

// NodeStake returns the stake of node id that counts in epoch e.
func (s *State) NodeStake(id ObjectID, e uint32) uint64 { return s.nodeWeights(e)[id] }

// StakesOf returns the stakes owned by a, sorted by ID.
func (s *State) StakesOf(a Address) []Stake {
	var out []Stake
	for _, id := range sortedIDs(s.d.Stakes) {
		if st := s.d.Stakes[id]; st.Owner == a {
			out = append(out, *st)
		}
	}
	return out
}

// Committee returns the committee of epoch e, if recorded.
func (s *State) Committee(e uint32) (*Committee, bool) {
	c := s.d.Committees[e]
	if c == nil {
		return nil, false
	}
	cp := *c
	cp.Members = append([]Member(nil), c.Members...)
	return &cp, true
}

// Prices are the prices and capacity of the current epoch.
type Prices struct {
	Epoch uint32 `json:"epoch"`
	// StoragePrice is per MiB of encoded size per epoch; WritePrice per MiB of encoded size.
	StoragePrice uint64 `json:"storage_price_per_mib_epoch"`
	WritePrice   uint64 `json:"write_price_per_mib"`
	Capacity     uint64 `json:"capacity"`
	// Used is the encoded size already reserved in the current epoch.
	Used uint64 `json:"used"`
}

// Prices returns the current prices.
func (s *State) Prices() Prices {
	p := Prices{Epoch: s.d.Epoch, Used: s.d.Used[s.d.Epoch]}
	if c := s.d.Committees[s.d.Epoch]; c != nil {
		p.StoragePrice, p.WritePrice, p.Capacity = c.StoragePrice, c.WritePrice, c.Capacity
	}
	return p
}

// Blob returns a blob object.
func (s *State) Blob(id ObjectID) (Blob, bool) {
	if b := s.d.Blobs[id]; b != nil {
		cp := *b
		return cp, true
	}
	return Blob{}, false
}

// BlobsByID returns the blob objects registered for a blob ID (live or in their grace epoch),
// sorted by object ID.
func (s *State) BlobsByID(bid blob.ID) []Blob {
	ids := make([]ObjectID, 0, len(s.byBlobID[bid]))
	for id := range s.byBlobID[bid] {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	out := make([]Blob, len(ids))
	for i, id := range ids {
		out[i] = *s.d.Blobs[id]
	}
	return out
}

// BlobStatusKind is the kind of a blob ID's status, as Walrus reports it.
type BlobStatusKind string

// Status kinds.
const (
	StatusNonexistent BlobStatusKind = "nonexistent"
	StatusInvalid     BlobStatusKind = "invalid"
	StatusPermanent   BlobStatusKind = "permanent"
	StatusDeletable   BlobStatusKind = "deletable"
)

// DeletableCounts counts the live deletable objects of a blob ID.
type DeletableCounts struct {
	Total     uint32 `json:"count_deletable_total"`
	Certified uint32 `json:"count_deletable_certified"`
}

// BlobStatus is Walrus's status of a blob ID over all its live objects: Invalid if marked
// invalid; Permanent if a live permanent object exists (with the latest end epoch, preferring
// certified ones); Deletable if only deletable objects live; Nonexistent otherwise.
type BlobStatus struct {
	Status      BlobStatusKind `json:"status"`
	BlobID      blob.ID        `json:"blob_id"`
	EndEpoch    uint32         `json:"end_epoch,omitempty"`
	IsCertified bool           `json:"is_certified,omitempty"`
	// ObjectID is the permanent object the status describes.
	ObjectID              ObjectID        `json:"object_id,omitzero"`
	InitialCertifiedEpoch *uint32         `json:"initial_certified_epoch,omitempty"`
	DeletableCounts       DeletableCounts `json:"deletable_counts"`
	InvalidEpoch          uint32          `json:"invalid_epoch,omitempty"`
}

// BlobStatus returns the status of a blob ID at the current epoch.
func (s *State) BlobStatus(bid blob.ID) BlobStatus {
	st := BlobStatus{Status: StatusNonexistent, BlobID: bid}
	if e, bad := s.d.Invalid[bid]; bad {
		st.Status, st.InvalidEpoch = StatusInvalid, e
		return st
	}
	var perm *Blob
	for _, b := range s.BlobsByID(bid) {
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
			bb := b
			perm = &bb
		}
	}
	switch {
	case perm != nil:
		st.Status, st.EndEpoch, st.IsCertified, st.ObjectID = StatusPermanent, perm.Storage.End, perm.Certified, perm.ID
	case st.DeletableCounts.Total > 0:
		st.Status = StatusDeletable
	}
	return st
}

// Owned lists the storage resources and blob objects of an owner.
type Owned struct {
	Storage []Storage `json:"storage"`
	Blobs   []Blob    `json:"blobs"`
}

// OwnedBy returns the storage resources and blobs owned by a, sorted by object ID.
func (s *State) OwnedBy(a Address) Owned {
	out := Owned{Storage: []Storage{}, Blobs: []Blob{}}
	for _, id := range sortedIDs(s.d.Storage) {
		if st := s.d.Storage[id]; st.Owner == a {
			out.Storage = append(out.Storage, *st)
		}
	}
	for _, id := range sortedIDs(s.d.Blobs) {
		if b := s.d.Blobs[id]; b.Owner == a {
			out.Blobs = append(out.Blobs, *b)
		}
	}
	return out
}

// Storage returns a storage resource.
func (s *State) Storage(id ObjectID) (Storage, bool) {
	if st := s.d.Storage[id]; st != nil {
		return *st, true
	}
	return Storage{}, false
}

// Info is a summary of the system like `walrus info`.
type Info struct {
	Params         Params `json:"params"`
	Height         uint64 `json:"height"`
	TimeMs         int64  `json:"time_ms"`
	Epoch          uint32 `json:"epoch"`
	EpochStartMs   int64  `json:"epoch_start_ms"`
	NextEpochMs    int64  `json:"next_epoch_ms"`
	Prices         Prices `json:"prices"`
	CommitteeSize  int    `json:"committee_size"`
	RegisteredNode int    `json:"registered_nodes"`
	EventSeq       uint64 `json:"event_seq"`
	AppHash        Hash   `json:"app_hash"`
}

// Info returns the system summary (the AppHash is left zero; drivers fill in the last block's).
func (s *State) Info() Info {
	i := Info{Params: s.d.Params, Height: s.d.Height, TimeMs: s.d.TimeMs, Epoch: s.d.Epoch,
		EpochStartMs: s.d.EpochStart, NextEpochMs: s.d.EpochStart + s.d.Params.EpochDurationMs,
		Prices: s.Prices(), RegisteredNode: len(s.d.Nodes), EventSeq: s.d.EventSeq}
	if c := s.d.Committees[s.d.Epoch]; c != nil {
		i.CommitteeSize = len(c.Members)
	}
	return i
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
func (s *State) Stake(id ObjectID) (Stake, bool) {
	if st := s.d.Stakes[id]; st != nil {
		return *st, true
	}
	return Stake{}, false
}
