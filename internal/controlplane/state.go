package controlplane

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"

	"golang.org/x/crypto/blake2b"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
)

// State is the whole control-plane state. It is not safe for concurrent use: a driver
// serialises ApplyBlock and queries (queries may run concurrently with each other).
type State struct {
	d data
	// byBlobID indexes live blob objects by blob ID (derived from d.Blobs, not hashed).
	byBlobID map[blob.ID]map[ObjectID]struct{}
	// c commits to d's records incrementally (commitment.go).
	c *commitment
	// blobIdx and storageIdx index blobs and storage resources by owner and end epoch
	// (derived from d, brought up to date by commitDirty).
	blobIdx, storageIdx *objIndex
	// created, txHash and events belong to the transaction (or block step) being applied.
	created []ObjectID
	txHash  Hash
	events  []Event
	// valUpdates are the validator set changes of the block being applied.
	valUpdates []ValidatorUpdate
}

// data is everything that is hashed and snapshotted. Its JSON encoding is deterministic:
// struct fields in order, map keys sorted.
type data struct {
	Version    uint32                `json:"version"`
	Params     Params                `json:"params"`
	Height     uint64                `json:"height"`
	TimeMs     int64                 `json:"time_ms"`
	Epoch      uint32                `json:"epoch"`
	EpochStart int64                 `json:"epoch_start_ms"`
	EventSeq   uint64                `json:"event_seq"`
	Accounts   map[Address]*Account  `json:"accounts"`
	Nodes      map[ObjectID]*Node    `json:"nodes"`
	Stakes     map[ObjectID]*Stake   `json:"stakes"`
	Storage    map[ObjectID]*Storage `json:"storage"`
	Blobs      map[ObjectID]*Blob    `json:"blobs"`
	Committees map[uint32]*Committee `json:"committees"`
	// Used is the reserved encoded size per epoch; Rewards the fees collected per epoch.
	Used    map[uint32]uint64  `json:"used"`
	Rewards map[uint32]uint64  `json:"rewards"`
	Invalid map[blob.ID]uint32 `json:"invalid"`
	// Storage challenges and their consequences (challenge.go).
	challengeData
	// EpochSyncs holds the state of the change to the current epoch (epoch.go).
	EpochSyncs map[uint32]*EpochSync `json:"epoch_syncs"`
	// Validators is the CometBFT validator set the control plane keeps (validators.go).
	Validators map[ValidatorKey]*Validator `json:"validators"`
}

// stateVersion is the version of the records and of their commitment: 2 since the commitment
// became incremental (version 1 hashed the whole state's JSON).
const stateVersion = 2

// NewState builds the state at height 0 from a genesis. When the genesis has nodes, the first
// committee (epoch 1) is chosen at once; the events of that epoch change are returned.
func NewState(g *Genesis) (*State, []cpapi.Event, error) {
	if err := g.Validate(); err != nil {
		return nil, nil, err
	}
	s := &State{d: data{
		Version:    stateVersion,
		Params:     g.Params,
		TimeMs:     g.GenesisTime,
		EpochStart: g.GenesisTime,
		Accounts:   map[Address]*Account{},
		Nodes:      map[ObjectID]*Node{},
		Stakes:     map[ObjectID]*Stake{},
		Storage:    map[ObjectID]*Storage{},
		Blobs:      map[ObjectID]*Blob{},
		Committees: map[uint32]*Committee{},
		Used:       map[uint32]uint64{},
		Rewards:    map[uint32]uint64{},
		Invalid:    map[blob.ID]uint32{},
		EpochSyncs: map[uint32]*EpochSync{},
		Validators: map[ValidatorKey]*Validator{},
	}, byBlobID: map[blob.ID]map[ObjectID]struct{}{}}
	s.d.initChallenges()
	s.rebuild()
	for _, v := range g.Validators {
		s.touchID(tableValidator, v.PublicKey)
		s.d.Validators[v.PublicKey] = &Validator{Power: v.Power}
	}
	for _, b := range g.Balances {
		s.account(b.Address).Balance += b.Amount
	}
	for i, gn := range g.Nodes {
		if err := checkNodeKey(gn.BLSPublicKey, gn.Owner, 0, gn.ProofOfPossession); err != nil {
			return nil, nil, fmt.Errorf("%w: node %d: %w", ErrGenesis, i, err)
		}
		if err := checkNodeFields(gn.Name, gn.NetworkAddress, gn.NetworkPublicKey, gn.Commission); err != nil {
			return nil, nil, fmt.Errorf("%w: node %d: %w", ErrGenesis, i, err)
		}
		if err := s.checkKeyUnused(gn.BLSPublicKey, ObjectID{}); err != nil {
			return nil, nil, fmt.Errorf("%w: node %d: %w", ErrGenesis, i, err)
		}
		id := genesisObjectID("node", i)
		s.touchID(tableNode, id)
		s.d.Nodes[id] = &Node{ID: id, Owner: gn.Owner, Name: gn.Name, NetworkAddress: gn.NetworkAddress,
			NetworkPublicKey: gn.NetworkPublicKey, BLSPublicKey: gn.BLSPublicKey, Commission: gn.Commission,
			StoragePrice: gn.StoragePrice, WritePrice: gn.WritePrice, Capacity: gn.Capacity, ValidatorKey: gn.ValidatorKey}
		sid := genesisObjectID("stake", i)
		s.touchID(tableStake, sid)
		s.d.Stakes[sid] = &Stake{ID: sid, Owner: gn.Owner, NodeID: id, Amount: gn.Stake}
	}
	if len(g.Nodes) > 0 {
		s.changeEpoch(g.GenesisTime)
	}
	ev := eventsAPI(s.events)
	s.events, s.valUpdates = nil, nil
	s.commitDirty()
	return s, ev, nil
}

func genesisObjectID(kind string, i int) ObjectID {
	b := []byte("floe-genesis-" + kind)
	b = binary.LittleEndian.AppendUint32(b, uint32(i))
	return ObjectID(blake2b.Sum256(b))
}

// account returns a's account for a change, creating it if needed.
func (s *State) account(a Address) *Account {
	s.touchID(tableAccount, a)
	acc := s.d.Accounts[a]
	if acc == nil {
		acc = &Account{}
		s.d.Accounts[a] = acc
	}
	return acc
}

// Height returns the height of the last applied block.
func (s *State) Height() uint64 { return s.d.Height }

// TimeMs returns the time of the last applied block in Unix milliseconds.
func (s *State) TimeMs() int64 { return s.d.TimeMs }

// Epoch returns the current epoch.
func (s *State) Epoch() uint32 { return s.d.Epoch }

// EventSeq returns the number of events emitted so far (the next event's sequence number).
func (s *State) EventSeq() uint64 { return s.d.EventSeq }

// Params returns the system parameters.
func (s *State) Params() Params { return s.d.Params }

// Snapshot returns the deterministic encoding of the whole state.
func (s *State) Snapshot() ([]byte, error) {
	b, err := json.Marshal(&s.d)
	if err != nil {
		return nil, fmt.Errorf("controlplane: encoding state: %w", err)
	}
	return b, nil
}

// Hash returns the app hash (commitment.go). It first folds the changes of the last block into
// the commitment, so it must not run concurrently with queries (ApplyBlock calls it).
func (s *State) Hash() Hash {
	s.commitDirty()
	return s.appHash()
}

// Restore rebuilds a state from a snapshot.
func Restore(snapshot []byte) (*State, error) {
	s := &State{byBlobID: map[blob.ID]map[ObjectID]struct{}{}}
	if err := json.Unmarshal(snapshot, &s.d); err != nil {
		return nil, fmt.Errorf("controlplane: decoding state: %w", err)
	}
	if s.d.Version != stateVersion {
		return nil, fmt.Errorf("controlplane: state version %d, want %d", s.d.Version, stateVersion)
	}
	if s.d.Accounts == nil {
		s.d.Accounts = map[Address]*Account{}
	}
	if s.d.Nodes == nil {
		s.d.Nodes = map[ObjectID]*Node{}
	}
	if s.d.Stakes == nil {
		s.d.Stakes = map[ObjectID]*Stake{}
	}
	if s.d.Storage == nil {
		s.d.Storage = map[ObjectID]*Storage{}
	}
	if s.d.Blobs == nil {
		s.d.Blobs = map[ObjectID]*Blob{}
	}
	if s.d.Committees == nil {
		s.d.Committees = map[uint32]*Committee{}
	}
	if s.d.Used == nil {
		s.d.Used = map[uint32]uint64{}
	}
	if s.d.Rewards == nil {
		s.d.Rewards = map[uint32]uint64{}
	}
	if s.d.Invalid == nil {
		s.d.Invalid = map[blob.ID]uint32{}
	}
	s.d.initChallenges()
	if s.d.EpochSyncs == nil {
		s.d.EpochSyncs = map[uint32]*EpochSync{}
	}
	if s.d.Validators == nil {
		s.d.Validators = map[ValidatorKey]*Validator{}
	}
	for id, b := range s.d.Blobs {
		s.index(b.BlobID, id)
	}
	s.rebuild()
	return s, nil
}

func (s *State) index(bid blob.ID, obj ObjectID) {
	m := s.byBlobID[bid]
	if m == nil {
		m = map[ObjectID]struct{}{}
		s.byBlobID[bid] = m
	}
	m[obj] = struct{}{}
}

func (s *State) unindex(bid blob.ID, obj ObjectID) {
	if m := s.byBlobID[bid]; m != nil {
		delete(m, obj)
		if len(m) == 0 {
			delete(s.byBlobID, bid)
		}
	}
}

func (s *State) emit(e Event) {
	e.Seq = s.d.EventSeq
	s.d.EventSeq++
	e.Height = s.d.Height
	e.TxHash = s.txHash
	if e.Epoch == 0 {
		e.Epoch = s.d.Epoch
	}
	s.events = append(s.events, e)
}

// newObjectID derives the next object ID of the running transaction:
// Blake2b-256("floe-object" || tx hash || u32 index).
func (s *State) newObjectID() ObjectID {
	b := append([]byte("floe-object"), s.txHash[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.created)))
	id := ObjectID(blake2b.Sum256(b))
	s.created = append(s.created, id)
	return id
}

func sortedIDs[V any](m map[ObjectID]V) []ObjectID {
	ids := make([]ObjectID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sortIDs(ids)
	return ids
}

func sortIDs(ids []ObjectID) {
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
}

func lessID(a, b ObjectID) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
