package controlplane

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"

	"github.com/floelabs/floe/blob"
)

// TxVersion is the version byte of the transaction wire form.
const TxVersion = 1

// MaxTxSize bounds the wire size of a transaction.
const MaxTxSize = 64 << 10

// SigningPrefix precedes the payload in the message an account key signs.
const SigningPrefix = "floe-tx-v1:"

// Errors of the transaction wire form.
var (
	// ErrInvalidTx: the bytes are not a well-formed transaction in canonical form.
	ErrInvalidTx = errors.New("invalid transaction")
	// ErrBadSignature: the signature does not verify under the sender's key.
	ErrBadSignature = errors.New("bad signature")
)

// Tx is an unsigned transaction: who sends it, with which nonce, on which chain, doing what.
type Tx struct {
	ChainID string    `json:"chain_id"`
	Sender  PublicKey `json:"sender"`
	Nonce   uint64    `json:"nonce"`
	Op      Op        `json:"op"`
}

// Op is exactly one operation.
type Op struct {
	Transfer       *TransferOp       `json:"transfer,omitempty"`
	RegisterNode   *RegisterNodeOp   `json:"register_node,omitempty"`
	UpdateNode     *UpdateNodeOp     `json:"update_node,omitempty"`
	SetVotes       *SetVotesOp       `json:"set_votes,omitempty"`
	Stake          *StakeOp          `json:"stake,omitempty"`
	WithdrawStake  *WithdrawStakeOp  `json:"withdraw_stake,omitempty"`
	ReserveStorage *ReserveStorageOp `json:"reserve_storage,omitempty"`
	SplitStorage   *SplitStorageOp   `json:"split_storage,omitempty"`
	FuseStorage    *FuseStorageOp    `json:"fuse_storage,omitempty"`
	RegisterBlob   *RegisterBlobOp   `json:"register_blob,omitempty"`
	CertifyBlob    *CertifyBlobOp    `json:"certify_blob,omitempty"`
	InvalidateBlob *InvalidateBlobOp `json:"invalidate_blob,omitempty"`
	ExtendBlob     *ExtendBlobOp     `json:"extend_blob,omitempty"`
	DeleteBlob     *DeleteBlobOp     `json:"delete_blob,omitempty"`
	SetAttributes  *SetAttributesOp  `json:"set_attributes,omitempty"`
	TransferObject *TransferObjectOp `json:"transfer_object,omitempty"`
	// Storage challenges (challenge.go).
	ChallengeShare       *ChallengeShareOp       `json:"challenge_share,omitempty"`
	ChallengeCertificate *ChallengeCertificateOp `json:"challenge_certificate,omitempty"`
	ShareBlob            *ShareBlobOp            `json:"share_blob,omitempty"`
	FundSharedBlob       *FundSharedBlobOp       `json:"fund_shared_blob,omitempty"`
	// Epoch changes and the validator set (internal/controlplane's epoch.go, validators.go).
	EpochSyncDone *EpochSyncDoneOp `json:"epoch_sync_done,omitempty"`
	SetValidator  *SetValidatorOp  `json:"set_validator,omitempty"`
}

// Count returns the number of operations set (a valid Op has exactly one).
func (o *Op) Count() int {
	n := 0
	for _, set := range []bool{o.Transfer != nil, o.RegisterNode != nil, o.UpdateNode != nil,
		o.SetVotes != nil, o.Stake != nil, o.WithdrawStake != nil, o.ReserveStorage != nil,
		o.SplitStorage != nil, o.FuseStorage != nil, o.RegisterBlob != nil, o.CertifyBlob != nil,
		o.InvalidateBlob != nil, o.ExtendBlob != nil, o.DeleteBlob != nil, o.SetAttributes != nil,
		o.TransferObject != nil, o.ChallengeShare != nil, o.ChallengeCertificate != nil, o.ShareBlob != nil, o.FundSharedBlob != nil,
		o.EpochSyncDone != nil, o.SetValidator != nil} {
		if set {
			n++
		}
	}
	return n
}

// TransferOp sends tokens to another account.
type TransferOp struct {
	To     Address `json:"to"`
	Amount uint64  `json:"amount"`
}

// RegisterNodeOp registers a storage node owned by the sender. ProofOfPossession is the BLS
// signature of the protocol PoP message (intent 0) for the current epoch and the sender's
// address.
type RegisterNodeOp struct {
	Name              string       `json:"name"`
	NetworkAddress    string       `json:"network_address"`
	NetworkPublicKey  []byte       `json:"network_public_key"`
	BLSPublicKey      BLSPublicKey `json:"bls_public_key"`
	ProofOfPossession BLSSignature `json:"proof_of_possession"`
	Commission        uint16       `json:"commission"`
	StoragePrice      uint64       `json:"storage_price"`
	WritePrice        uint64       `json:"write_price"`
	Capacity          uint64       `json:"capacity"`
}

// UpdateNodeOp changes a node's metadata; nil fields stay. A new BLS key needs a new proof of
// possession; committee keys change at the next epoch.
type UpdateNodeOp struct {
	NodeID            ObjectID      `json:"node_id"`
	Name              *string       `json:"name,omitempty"`
	NetworkAddress    *string       `json:"network_address,omitempty"`
	NetworkPublicKey  []byte        `json:"network_public_key,omitempty"`
	BLSPublicKey      *BLSPublicKey `json:"bls_public_key,omitempty"`
	ProofOfPossession *BLSSignature `json:"proof_of_possession,omitempty"`
	Commission        *uint16       `json:"commission,omitempty"`
}

// SetVotesOp sets a node's price and capacity votes (effective at the next epoch change).
type SetVotesOp struct {
	NodeID       ObjectID `json:"node_id"`
	StoragePrice uint64   `json:"storage_price"`
	WritePrice   uint64   `json:"write_price"`
	Capacity     uint64   `json:"capacity"`
}

// StakeOp stakes tokens with a node, active from the next epoch.
type StakeOp struct {
	NodeID ObjectID `json:"node_id"`
	Amount uint64   `json:"amount"`
}

// WithdrawStakeOp withdraws a stake at the next epoch change (at once if not yet active).
type WithdrawStakeOp struct {
	StakeID ObjectID `json:"stake_id"`
}

// ReserveStorageOp buys Size bytes of encoded storage for [current, current+EpochsAhead).
type ReserveStorageOp struct {
	Size        uint64 `json:"size"`
	EpochsAhead uint32 `json:"epochs_ahead"`
}

// SplitStorageOp splits a storage resource by epoch (AtEpoch, exclusive end of the first part)
// or by size (Size, the size of the new part); exactly one is non-zero. The new part gets a new
// object ID.
type SplitStorageOp struct {
	StorageID ObjectID `json:"storage_id"`
	AtEpoch   uint32   `json:"at_epoch,omitempty"`
	Size      uint64   `json:"size,omitempty"`
}

// FuseStorageOp fuses Second into First: same size and adjacent periods, or same period (sizes
// add).
type FuseStorageOp struct {
	First  ObjectID `json:"first"`
	Second ObjectID `json:"second"`
}

// RegisterBlobOp registers a blob on a storage resource owned by the sender, or, when
// StorageID is zero, on a new reservation of the encoded length for EpochsAhead epochs bought
// in the same transaction.
type RegisterBlobOp struct {
	StorageID    ObjectID `json:"storage_id,omitzero"`
	EpochsAhead  uint32   `json:"epochs_ahead,omitempty"`
	BlobID       blob.ID  `json:"blob_id"`
	RootHash     Hash     `json:"root_hash"`
	Size         uint64   `json:"size"`
	EncodingType uint8    `json:"encoding_type"`
	Deletable    bool     `json:"deletable"`
}

// CertifyBlobOp certifies a registered blob with a quorum certificate over the storage
// confirmation message of the current epoch.
type CertifyBlobOp struct {
	BlobObjectID ObjectID    `json:"blob_object_id"`
	Certificate  Certificate `json:"certificate"`
}

// InvalidateBlobOp marks a blob ID invalid with a validity certificate over the invalid blob ID
// message of the current epoch.
type InvalidateBlobOp struct {
	Certificate Certificate `json:"certificate"`
}

// ExtendBlobOp pays for Epochs more epochs of a certified, unexpired blob.
type ExtendBlobOp struct {
	BlobObjectID ObjectID `json:"blob_object_id"`
	Epochs       uint32   `json:"epochs"`
}

// DeleteBlobOp deletes a deletable blob; its storage resource returns to the owner.
type DeleteBlobOp struct {
	BlobObjectID ObjectID `json:"blob_object_id"`
}

// SetAttributesOp inserts or replaces attributes, then removes the keys in Remove.
type SetAttributesOp struct {
	BlobObjectID ObjectID          `json:"blob_object_id"`
	Set          map[string]string `json:"set,omitempty"`
	Remove       []string          `json:"remove,omitempty"`
}

// TransferObjectOp gives a blob or storage resource to another owner.
type TransferObjectOp struct {
	ObjectID ObjectID `json:"object_id"`
	To       Address  `json:"to"`
}

// ShareBlobOp turns a permanent blob object owned by the sender into a shared blob object,
// with Amount of the sender's tokens as its first funds: nobody owns it any more, anyone may
// fund it (FundSharedBlobOp) and extend it (ExtendBlobOp, paid from its funds), and it can no
// longer be deleted, transferred or relabelled.
type ShareBlobOp struct {
	BlobObjectID ObjectID `json:"blob_object_id"`
	Amount       uint64   `json:"amount,omitempty"`
}

// FundSharedBlobOp adds Amount of the sender's tokens to a shared blob's funds.
type FundSharedBlobOp struct {
	BlobObjectID ObjectID `json:"blob_object_id"`
	Amount       uint64   `json:"amount"`
}

// EpochSyncDoneOp reports that a member of the current committee holds every shard it gained
// at the epoch change (Walrus's epoch_sync_done). Signature is the member's BLS signature of
// the protocol message EpochSyncDone (Floe's intent 0x80: epoch, node ID): the signature, not
// the sender, proves the report, so any account may send it (nodes send it from accounts that
// hold no tokens) and it is admitted like a certificate.
type EpochSyncDoneOp struct {
	NodeID    ObjectID     `json:"node_id"`
	Epoch     uint32       `json:"epoch"`
	Signature BLSSignature `json:"signature"`
}

// SetValidatorOp sets (or, with an empty PublicKey, clears) the CometBFT validator key of a
// node owned by the sender: the Ed25519 consensus key (32 bytes) of the validator its operator
// runs. Signature is that key's signature of ValidatorKeyMessage(chain ID, node ID), proving
// the operator holds it. Validator keys of committee members take effect at epoch changes
// (see the package documentation of internal/controlplane).
type SetValidatorOp struct {
	NodeID    ObjectID `json:"node_id"`
	PublicKey []byte   `json:"public_key,omitempty"`
	Signature []byte   `json:"signature,omitempty"`
}

// ValidatorKeyMessage is what a validator key signs to be attached to a node: the chain ID
// and the node's ID after a domain prefix.
func ValidatorKeyMessage(chainID string, node ObjectID) []byte {
	b := append([]byte("floe-validator-key-v1:"), chainID...)
	b = append(b, 0)
	return append(b, node[:]...)
}

// Payload returns the canonical payload bytes of tx: Go's encoding/json of the Tx struct
// (fields in declaration order, map keys sorted, no insignificant white space).
func (tx *Tx) Payload() ([]byte, error) {
	if n := tx.Op.Count(); n != 1 {
		return nil, fmt.Errorf("%w: %d operations, want exactly 1", ErrInvalidTx, n)
	}
	b, err := json.Marshal(tx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTx, err)
	}
	return b, nil
}

// SigningMessage returns the bytes an account key signs for payload.
func SigningMessage(payload []byte) []byte {
	return append([]byte(SigningPrefix), payload...)
}

// Sign encodes tx, signs it with key (whose public key must be tx.Sender) and returns the
// wire bytes.
func Sign(tx *Tx, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key has %d bytes", ErrInvalidTx, len(key))
	}
	if !bytes.Equal(key.Public().(ed25519.PublicKey), tx.Sender[:]) {
		return nil, fmt.Errorf("%w: key does not match the sender", ErrInvalidTx)
	}
	payload, err := tx.Payload()
	if err != nil {
		return nil, err
	}
	var sig Signature
	copy(sig[:], ed25519.Sign(key, SigningMessage(payload)))
	return Assemble(payload, sig), nil
}

// Assemble builds the wire bytes from a payload and its signature:
//
//	0x01 (version) || uvarint(len(payload)) || payload || ed25519 signature (64 bytes)
func Assemble(payload []byte, sig Signature) []byte {
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(payload)+len(sig))
	out = append(out, TxVersion)
	out = binary.AppendUvarint(out, uint64(len(payload)))
	out = append(out, payload...)
	return append(out, sig[:]...)
}

// TxHash returns Blake2b-256 of the wire bytes: the transaction's hash.
func TxHash(wire []byte) Hash { return Hash(blake2b.Sum256(wire)) }

// DecodeTx parses wire bytes, checks that the payload is in canonical form and that the
// signature verifies, and returns the transaction. Errors wrap ErrInvalidTx or
// ErrBadSignature.
func DecodeTx(wire []byte) (*Tx, error) {
	if len(wire) > MaxTxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidTx, len(wire), MaxTxSize)
	}
	if len(wire) < 1 || wire[0] != TxVersion {
		return nil, fmt.Errorf("%w: unknown version", ErrInvalidTx)
	}
	n, k := binary.Uvarint(wire[1:])
	if k <= 0 || n > uint64(len(wire)) {
		return nil, fmt.Errorf("%w: bad payload length", ErrInvalidTx)
	}
	if k != len(binary.AppendUvarint(nil, n)) {
		return nil, fmt.Errorf("%w: non-minimal payload length", ErrInvalidTx)
	}
	rest := wire[1+k:]
	if uint64(len(rest)) != n+SignatureLen {
		return nil, fmt.Errorf("%w: %d bytes after the length, want %d", ErrInvalidTx, len(rest), n+SignatureLen)
	}
	payload := rest[:n]
	var sig Signature
	copy(sig[:], rest[n:])
	tx, err := DecodePayload(payload)
	if err != nil {
		return nil, err
	}
	if !tx.Sender.Verify(SigningMessage(payload), sig) {
		return nil, ErrBadSignature
	}
	return tx, nil
}

// DecodePayload parses a payload and checks that it is in canonical form (re-encodes to the
// same bytes). It does not check a signature.
func DecodePayload(payload []byte) (*Tx, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var tx Tx
	if err := dec.Decode(&tx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTx, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalidTx)
	}
	canon, err := tx.Payload()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, payload) {
		return nil, fmt.Errorf("%w: payload is not in canonical form", ErrInvalidTx)
	}
	return &tx, nil
}
