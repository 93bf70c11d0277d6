package controlplane

import (
	"encoding/hex"
	"fmt"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// ObjectID identifies a blob, storage resource, storage node or stake object.
type ObjectID = protocol.ObjectID

// Address is an account address.
type Address = crypto.Address

// Hash is a 32-byte hash (transaction hashes, state hashes, Merkle roots) in hex text form.
type Hash [32]byte

// String returns the lowercase hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("%w: hash has %d hex digits, want 64", ErrInvalidTx, len(b))
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return fmt.Errorf("%w: hash: %w", ErrInvalidTx, err)
	}
	return nil
}

// MiB is the storage unit: prices are per MiB of encoded size.
const MiB = cpapi.MiB

// The records below are what the state holds and hashes. They are the state machine's own:
// the wire's types (api/controlplane) are converted from them at the edge (API methods), so
// a change on either side does not reach the other.

// Account is a balance and the next expected nonce.
type Account struct {
	Balance uint64 `json:"balance"`
	Nonce   uint64 `json:"nonce"`
}

// Node is a registered storage node.
type Node struct {
	ID               ObjectID            `json:"id"`
	Owner            Address             `json:"owner"`
	Name             string              `json:"name"`
	NetworkAddress   string              `json:"network_address"`
	NetworkPublicKey []byte              `json:"network_public_key"`
	BLSPublicKey     crypto.BLSPublicKey `json:"bls_public_key"`
	// Commission is the node's share of its rewards in basis points (0..10000).
	Commission      uint16 `json:"commission"`
	StoragePrice    uint64 `json:"storage_price_vote"`
	WritePrice      uint64 `json:"write_price_vote"`
	Capacity        uint64 `json:"capacity_vote"`
	RegisteredEpoch uint32 `json:"registered_epoch"`
	// ValidatorKey is the Ed25519 consensus key of the CometBFT validator the node's operator
	// runs (32 bytes), if set (SetValidatorOp).
	ValidatorKey []byte `json:"validator_key,omitempty"`
}

// EpochSync is the state of the change to an epoch: which members of its committee hold
// every shard they gained (they reported EpochSyncDone, or gained no shard).
type EpochSync struct {
	Epoch   uint32 `json:"epoch"`
	StartMs int64  `json:"start_ms"`
	// Done lists the members that are done, sorted by node ID; DoneShards is their weight.
	Done       []ObjectID `json:"done"`
	DoneShards int        `json:"done_shards"`
	// Completed is set when EpochChangeDone was emitted, at DoneMs; Forced if it was at the
	// deadline without a quorum.
	Completed bool  `json:"completed"`
	DoneMs    int64 `json:"done_ms,omitempty"`
	Forced    bool  `json:"forced,omitempty"`
	// Unsynced lists, by shard, the shards whose owner in this epoch has not reported holding
	// them: those gained at this change by members that have not sent EpochSyncDone yet, and
	// those carried over from earlier changes that their owner never reported (it was down,
	// or the change was forced). A node that holds an unsynced shard without owning it keeps
	// it (and serves it) until the shard leaves this list.
	Unsynced []ShardHandover `json:"unsynced,omitempty"`
}

// ShardHandover is a shard on its way to its owner: Owner has not reported holding it, and
// From is the last owner that did (its slivers are there), or zero if none did.
type ShardHandover struct {
	Shard uint16   `json:"shard"`
	Owner ObjectID `json:"owner"`
	From  ObjectID `json:"from"`
}

// isDone reports whether node id is among the done members.
func (es *EpochSync) isDone(id ObjectID) bool {
	for _, d := range es.Done {
		if d == id {
			return true
		}
	}
	return false
}

// ValidatorKey is a CometBFT validator's Ed25519 consensus public key.
type ValidatorKey [32]byte

// Validator is a CometBFT validator the control plane keeps in its set: its voting power, and
// the node it belongs to (zero for a genesis validator).
type Validator struct {
	Power  int64    `json:"power"`
	NodeID ObjectID `json:"node_id,omitzero"`
}

// ValidatorUpdate is a change of the CometBFT validator set (power 0 removes the key).
type ValidatorUpdate struct {
	PublicKey ValidatorKey
	Power     int64
}

// Stake is an amount staked to a node.
type Stake struct {
	ID     ObjectID `json:"id"`
	Owner  Address  `json:"owner"`
	NodeID ObjectID `json:"node_id"`
	Amount uint64   `json:"amount"`
	// ActivationEpoch is the first epoch in which the stake counts.
	ActivationEpoch uint32 `json:"activation_epoch"`
	// WithdrawEpoch, when non-zero, is the epoch at whose start the stake is returned.
	WithdrawEpoch uint32 `json:"withdraw_epoch,omitempty"`
}

// Storage is a storage resource: Size bytes of encoded capacity for epochs [Start, End).
type Storage struct {
	ID    ObjectID `json:"id"`
	Owner Address  `json:"owner"`
	Start uint32   `json:"start_epoch"`
	End   uint32   `json:"end_epoch"`
	Size  uint64   `json:"storage_size"`
}

// Blob is a registered blob object.
type Blob struct {
	ID              ObjectID          `json:"id"`
	Owner           Address           `json:"owner"`
	BlobID          blob.ID           `json:"blob_id"`
	Size            uint64            `json:"size"`
	EncodingType    uint8             `json:"encoding_type"`
	RootHash        Hash              `json:"root_hash"`
	RegisteredEpoch uint32            `json:"registered_epoch"`
	Certified       bool              `json:"certified"`
	CertifiedEpoch  uint32            `json:"certified_epoch,omitempty"`
	Deletable       bool              `json:"deletable"`
	Storage         Storage           `json:"storage"`
	Attributes      map[string]string `json:"attributes,omitempty"`
	// Shared marks a shared blob object (shareBlob): Owner is zero, anyone may fund it, and
	// Funds pay its extensions. Both are omitted when unset, so records of unshared blobs keep
	// their commitment.
	Shared bool   `json:"shared,omitempty"`
	Funds  uint64 `json:"funds,omitempty"`
}

// Member is a committee member with its shards, in committee order.
type Member struct {
	NodeID           ObjectID            `json:"node_id"`
	Name             string              `json:"name"`
	NetworkAddress   string              `json:"network_address"`
	NetworkPublicKey []byte              `json:"network_public_key"`
	BLSPublicKey     crypto.BLSPublicKey `json:"bls_public_key"`
	Stake            uint64              `json:"stake"`
	Shards           []uint16            `json:"shards"`
}

// Committee is an epoch's committee, members sorted by node ID (certificates' signer bits refer
// to this order), with the prices and capacity fixed for the epoch.
type Committee struct {
	Epoch        uint32   `json:"epoch"`
	NShards      int      `json:"n_shards"`
	StartMs      int64    `json:"start_ms"`
	Members      []Member `json:"members"`
	StoragePrice uint64   `json:"storage_price_per_mib_epoch"`
	WritePrice   uint64   `json:"write_price_per_mib"`
	Capacity     uint64   `json:"capacity"`
}

// ProtocolMembers returns the members' keys and shard counts for certificate verification.
func (c *Committee) ProtocolMembers() []protocol.Member {
	out := make([]protocol.Member, len(c.Members))
	for i, m := range c.Members {
		out[i] = protocol.Member{PublicKey: m.BLSPublicKey, Weight: len(m.Shards)}
	}
	return out
}

// ShardOwner returns, for each shard index, the index of the member holding it (-1 if none).
func (c *Committee) ShardOwner() []int {
	out := make([]int, c.NShards)
	for i := range out {
		out[i] = -1
	}
	for i, m := range c.Members {
		for _, s := range m.Shards {
			out[s] = i
		}
	}
	return out
}

// Event types (the wire's).
const (
	EventTransfer          = cpapi.EventTransfer
	EventNodeRegistered    = cpapi.EventNodeRegistered
	EventNodeUpdated       = cpapi.EventNodeUpdated
	EventVotesSet          = cpapi.EventVotesSet
	EventStaked            = cpapi.EventStaked
	EventStakeWithdrawn    = cpapi.EventStakeWithdrawn
	EventStakeReturned     = cpapi.EventStakeReturned
	EventRewardPaid        = cpapi.EventRewardPaid
	EventStorageReserved   = cpapi.EventStorageReserved
	EventStorageSplit      = cpapi.EventStorageSplit
	EventStorageFused      = cpapi.EventStorageFused
	EventBlobRegistered    = cpapi.EventBlobRegistered
	EventBlobCertified     = cpapi.EventBlobCertified
	EventInvalidBlobID     = cpapi.EventInvalidBlobID
	EventBlobExtended      = cpapi.EventBlobExtended
	EventBlobDeleted       = cpapi.EventBlobDeleted
	EventBlobAttributes    = cpapi.EventBlobAttributes
	EventObjectTransferred = cpapi.EventObjectTransferred
	EventBlobShared        = cpapi.EventBlobShared
	EventSharedBlobFunded  = cpapi.EventSharedBlobFunded
	EventEpochChangeStart  = cpapi.EventEpochChangeStart
	EventEpochChangeDone   = cpapi.EventEpochChangeDone
	EventObjectsExpired    = cpapi.EventObjectsExpired
	// Storage challenges (challenge.go).
	EventChallengeRoundOpened = cpapi.EventChallengeRoundOpened
	EventChallengeSeedFixed   = cpapi.EventChallengeSeedFixed
	EventChallengePassed      = cpapi.EventChallengePassed
	EventChallengeFailed      = cpapi.EventChallengeFailed
	EventChallengeMissed      = cpapi.EventChallengeMissed
	EventRewardWithheld       = cpapi.EventRewardWithheld
	EventNodeSlashed          = cpapi.EventNodeSlashed

	EventEpochParametersSelected = cpapi.EventEpochParametersSelected
	EventEpochSyncDone           = cpapi.EventEpochSyncDone
	EventValidatorSet            = cpapi.EventValidatorSet
)

// Event is one change of state as the state machine emits it; API converts it to the wire's
// event.
type Event struct {
	Seq    uint64          `json:"seq"`
	Height uint64          `json:"height"`
	Type   cpapi.EventType `json:"type"`
	// TxHash is the transaction that emitted the event (zero for block-level events).
	TxHash       Hash     `json:"tx_hash,omitzero"`
	Epoch        uint32   `json:"epoch"`
	BlobID       blob.ID  `json:"blob_id,omitzero"`
	ObjectID     ObjectID `json:"object_id,omitzero"`
	NodeID       ObjectID `json:"node_id,omitzero"`
	Owner        Address  `json:"owner,omitzero"`
	To           Address  `json:"to,omitzero"`
	Amount       uint64   `json:"amount,omitempty"`
	Size         uint64   `json:"size,omitempty"`
	EncodingType uint8    `json:"encoding_type,omitempty"`
	StartEpoch   uint32   `json:"start_epoch,omitempty"`
	EndEpoch     uint32   `json:"end_epoch,omitempty"`
	Deletable    bool     `json:"deletable,omitempty"`
	IsExtension  bool     `json:"is_extension,omitempty"`
	WasCertified bool     `json:"was_certified,omitempty"`
	Round        uint32   `json:"round,omitempty"`
	Forced       bool     `json:"forced,omitempty"`
}

// MemberIndex returns the index of node id in the committee order, or -1.
func (c *Committee) MemberIndex(id ObjectID) int {
	for i, m := range c.Members {
		if m.NodeID == id {
			return i
		}
	}
	return -1
}

// ShardsOf returns the shards node id holds in this committee (nil if it is not a member).
func (c *Committee) ShardsOf(id ObjectID) []uint16 {
	if i := c.MemberIndex(id); i >= 0 {
		return c.Members[i].Shards
	}
	return nil
}

// API returns the event in the wire vocabulary.
func (e *Event) API() cpapi.Event {
	return cpapi.Event{Seq: e.Seq, Height: e.Height, Type: e.Type, TxHash: cpapi.Hash(e.TxHash), Epoch: e.Epoch,
		BlobID: e.BlobID, ObjectID: cpapi.ObjectID(e.ObjectID), NodeID: cpapi.ObjectID(e.NodeID),
		Owner: cpapi.Address(e.Owner), To: cpapi.Address(e.To), Amount: e.Amount, Size: e.Size,
		EncodingType: e.EncodingType, StartEpoch: e.StartEpoch, EndEpoch: e.EndEpoch, Deletable: e.Deletable,
		IsExtension: e.IsExtension, WasCertified: e.WasCertified, Round: e.Round, Forced: e.Forced}
}

func eventsAPI(evs []Event) []cpapi.Event {
	if evs == nil {
		return nil
	}
	out := make([]cpapi.Event, len(evs))
	for i := range evs {
		out[i] = evs[i].API()
	}
	return out
}

// API returns the node in the wire vocabulary.
func (n *Node) API() cpapi.Node {
	return cpapi.Node{ID: cpapi.ObjectID(n.ID), Owner: cpapi.Address(n.Owner), Name: n.Name, NetworkAddress: n.NetworkAddress,
		NetworkPublicKey: n.NetworkPublicKey, BLSPublicKey: cpapi.BLSPublicKey(n.BLSPublicKey), Commission: n.Commission,
		StoragePrice: n.StoragePrice, WritePrice: n.WritePrice, Capacity: n.Capacity, RegisteredEpoch: n.RegisteredEpoch,
		ValidatorKey: append([]byte(nil), n.ValidatorKey...)}
}

// API returns the stake in the wire vocabulary.
func (st *Stake) API() cpapi.Stake {
	return cpapi.Stake{ID: cpapi.ObjectID(st.ID), Owner: cpapi.Address(st.Owner), NodeID: cpapi.ObjectID(st.NodeID),
		Amount: st.Amount, ActivationEpoch: st.ActivationEpoch, WithdrawEpoch: st.WithdrawEpoch}
}

// API returns the storage resource in the wire vocabulary.
func (st *Storage) API() cpapi.Storage {
	return cpapi.Storage{ID: cpapi.ObjectID(st.ID), Owner: cpapi.Address(st.Owner), Start: st.Start, End: st.End, Size: st.Size}
}

// API returns the blob object in the wire vocabulary.
func (b *Blob) API() cpapi.Blob {
	var attrs map[string]string
	if len(b.Attributes) > 0 {
		attrs = make(map[string]string, len(b.Attributes))
		for k, v := range b.Attributes {
			attrs[k] = v
		}
	}
	return cpapi.Blob{ID: cpapi.ObjectID(b.ID), Owner: cpapi.Address(b.Owner), BlobID: b.BlobID, Size: b.Size,
		EncodingType: b.EncodingType, RootHash: cpapi.Hash(b.RootHash), RegisteredEpoch: b.RegisteredEpoch,
		Certified: b.Certified, CertifiedEpoch: b.CertifiedEpoch, Deletable: b.Deletable, Storage: b.Storage.API(),
		Attributes: attrs, Shared: b.Shared, Funds: b.Funds}
}

// API returns the committee in the wire vocabulary.
func (c *Committee) API() cpapi.Committee {
	out := cpapi.Committee{Epoch: c.Epoch, NShards: c.NShards, StartMs: c.StartMs, Members: make([]cpapi.Member, len(c.Members)),
		StoragePrice: c.StoragePrice, WritePrice: c.WritePrice, Capacity: c.Capacity}
	for i, m := range c.Members {
		out.Members[i] = cpapi.Member{NodeID: cpapi.ObjectID(m.NodeID), Name: m.Name, NetworkAddress: m.NetworkAddress,
			NetworkPublicKey: m.NetworkPublicKey, BLSPublicKey: cpapi.BLSPublicKey(m.BLSPublicKey), Stake: m.Stake,
			Shards: append([]uint16(nil), m.Shards...)}
	}
	return out
}

// API returns the parameters in the wire vocabulary.
func (p Params) API() cpapi.Params {
	return cpapi.Params{ChainID: p.ChainID, NShards: p.NShards, EpochDurationMs: p.EpochDurationMs, MaxEpochsAhead: p.MaxEpochsAhead,
		MinCommitteeSize: p.MinCommitteeSize, MaxCommitteeSize: p.MaxCommitteeSize, MinStake: p.MinStake,
		ChallengeRounds: p.ChallengeRounds, ChallengeSamples: p.ChallengeSamples,
		SlashAfterFailedEpochs: p.SlashAfterFailedEpochs, SlashBasisPoints: p.SlashBasisPoints,
		ExcludeAfterMissedEpochs: p.ExcludeAfterMissedEpochs}
}
