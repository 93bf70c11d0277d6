package client

import (
	"fmt"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
)

// The SDK's own types: what its API takes and returns. They are converted from the control
// plane's wire vocabulary (api/controlplane) in this file, so programs written against the
// SDK do not depend on the wire and the wire can change without breaking them. Their JSON is
// the same as the control plane's.

// AccountKey is a wallet: the Ed25519 key of a control-plane account (see LoadWallet,
// NewWallet).
type AccountKey = crypto.AccountKey

// Address is an account address, "0x" + 64 hex digits (see ParseAddress).
type Address [32]byte

// ObjectID identifies a blob object or storage resource, "0x" + 64 hex digits (see
// ParseObjectID).
type ObjectID [32]byte

// Hash is a 32-byte hash (a Merkle root, an app hash), 64 hex digits.
type Hash [32]byte

// BLSPublicKey is a storage node's BLS12-381 public key (48 bytes, standard base64).
type BLSPublicKey [48]byte

// ParseAddress parses an account address ("0x" + 64 hex digits).
func ParseAddress(s string) (Address, error) {
	a, err := cpapi.ParseAddress(s)
	if err != nil {
		return Address{}, fmt.Errorf("client: %w", err)
	}
	return Address(a), nil
}

// ParseObjectID parses an object ID ("0x" + 64 hex digits).
func ParseObjectID(s string) (ObjectID, error) {
	id, err := cpapi.ParseObjectID(s)
	if err != nil {
		return ObjectID{}, fmt.Errorf("client: %w", err)
	}
	return ObjectID(id), nil
}

// String returns "0x" and 64 lowercase hex digits.
func (a Address) String() string { return cpapi.Address(a).String() }

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return cpapi.Address(a).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error { return (*cpapi.Address)(a).UnmarshalText(b) }

// String returns "0x" and 64 lowercase hex digits.
func (id ObjectID) String() string { return cpapi.ObjectID(id).String() }

// MarshalText implements encoding.TextMarshaler.
func (id ObjectID) MarshalText() ([]byte, error) { return cpapi.ObjectID(id).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ObjectID) UnmarshalText(b []byte) error { return (*cpapi.ObjectID)(id).UnmarshalText(b) }

// IsZero reports whether id is all zeros.
func (id ObjectID) IsZero() bool { return id == ObjectID{} }

// String returns 64 lowercase hex digits.
func (h Hash) String() string { return cpapi.Hash(h).String() }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return cpapi.Hash(h).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error { return (*cpapi.Hash)(h).UnmarshalText(b) }

// String returns the standard base64 form.
func (k BLSPublicKey) String() string { return cpapi.BLSPublicKey(k).String() }

// MarshalText implements encoding.TextMarshaler.
func (k BLSPublicKey) MarshalText() ([]byte, error) { return cpapi.BLSPublicKey(k).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *BLSPublicKey) UnmarshalText(b []byte) error {
	return (*cpapi.BLSPublicKey)(k).UnmarshalText(b)
}

// Storage is a storage resource: Size bytes of encoded capacity for epochs [Start, End).
type Storage struct {
	ID    ObjectID `json:"id"`
	Owner Address  `json:"owner"`
	Start uint32   `json:"start_epoch"`
	End   uint32   `json:"end_epoch"`
	Size  uint64   `json:"storage_size"`
}

// Blob is a blob object as the control plane records it.
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
	// Shared marks a shared blob object: nobody owns it, anyone may fund it (FundShared) and
	// extend it (Extend), its Funds paying.
	Shared bool   `json:"shared,omitempty"`
	Funds  uint64 `json:"funds,omitempty"`
}

// Member is a committee member with its shards.
type Member struct {
	NodeID           ObjectID     `json:"node_id"`
	Name             string       `json:"name"`
	NetworkAddress   string       `json:"network_address"`
	NetworkPublicKey []byte       `json:"network_public_key"`
	BLSPublicKey     BLSPublicKey `json:"bls_public_key"`
	Stake            uint64       `json:"stake"`
	Shards           []uint16     `json:"shards"`
}

// Committee is the committee of storage nodes of an epoch, members sorted by node ID, with
// its shard assignment and the prices fixed for the epoch.
type Committee struct {
	Epoch        uint32   `json:"epoch"`
	NShards      int      `json:"n_shards"`
	StartMs      int64    `json:"start_ms"`
	Members      []Member `json:"members"`
	StoragePrice uint64   `json:"storage_price_per_mib_epoch"`
	WritePrice   uint64   `json:"write_price_per_mib"`
	Capacity     uint64   `json:"capacity"`
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

// Params are the system parameters fixed at genesis.
type Params struct {
	ChainID          string `json:"chain_id"`
	NShards          int    `json:"n_shards"`
	EpochDurationMs  int64  `json:"epoch_duration_ms"`
	MaxEpochsAhead   uint32 `json:"max_epochs_ahead"`
	MinCommitteeSize int    `json:"min_committee_size"`
	MaxCommitteeSize int    `json:"max_committee_size"`
	MinStake         uint64 `json:"min_stake"`
}

// Prices are the prices (per MiB of encoded size, per epoch for storage) and the capacity of
// the current epoch, and the encoded size already reserved in it.
type Prices struct {
	Epoch        uint32 `json:"epoch"`
	StoragePrice uint64 `json:"storage_price_per_mib_epoch"`
	WritePrice   uint64 `json:"write_price_per_mib"`
	Capacity     uint64 `json:"capacity"`
	Used         uint64 `json:"used"`
}

// mib is the storage unit of prices.
const mib = cpapi.MiB

func storageFromAPI(s cpapi.Storage) Storage {
	return Storage{ID: ObjectID(s.ID), Owner: Address(s.Owner), Start: s.Start, End: s.End, Size: s.Size}
}

func blobFromAPI(b *cpapi.Blob) *Blob {
	return &Blob{ID: ObjectID(b.ID), Owner: Address(b.Owner), BlobID: b.BlobID, Size: b.Size, EncodingType: b.EncodingType,
		RootHash: Hash(b.RootHash), RegisteredEpoch: b.RegisteredEpoch, Certified: b.Certified,
		CertifiedEpoch: b.CertifiedEpoch, Deletable: b.Deletable, Storage: storageFromAPI(b.Storage), Attributes: b.Attributes,
		Shared: b.Shared, Funds: b.Funds}
}

func blobsFromAPI(bs []cpapi.Blob) []Blob {
	out := make([]Blob, len(bs))
	for i := range bs {
		out[i] = *blobFromAPI(&bs[i])
	}
	return out
}

func committeeFromAPI(c *cpapi.Committee) *Committee {
	out := &Committee{Epoch: c.Epoch, NShards: c.NShards, StartMs: c.StartMs, Members: make([]Member, len(c.Members)),
		StoragePrice: c.StoragePrice, WritePrice: c.WritePrice, Capacity: c.Capacity}
	for i, m := range c.Members {
		out.Members[i] = Member{NodeID: ObjectID(m.NodeID), Name: m.Name, NetworkAddress: m.NetworkAddress,
			NetworkPublicKey: m.NetworkPublicKey, BLSPublicKey: BLSPublicKey(m.BLSPublicKey), Stake: m.Stake, Shards: m.Shards}
	}
	return out
}

func paramsFromAPI(p cpapi.Params) Params {
	return Params{ChainID: p.ChainID, NShards: p.NShards, EpochDurationMs: p.EpochDurationMs, MaxEpochsAhead: p.MaxEpochsAhead,
		MinCommitteeSize: p.MinCommitteeSize, MaxCommitteeSize: p.MaxCommitteeSize, MinStake: p.MinStake}
}

func pricesFromAPI(p cpapi.Prices) Prices {
	return Prices{Epoch: p.Epoch, StoragePrice: p.StoragePrice, WritePrice: p.WritePrice, Capacity: p.Capacity, Used: p.Used}
}

// NewWallet returns a new random wallet (save it with SaveWallet before funding it).
func NewWallet() (*AccountKey, error) {
	k, err := crypto.GenerateAccountKey(nil)
	if err != nil {
		return nil, fmt.Errorf("client: new wallet: %w", err)
	}
	return k, nil
}
