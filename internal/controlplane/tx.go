package controlplane

import (
	"crypto/ed25519"
	"fmt"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// The wire form of a transaction (its encoding, signature and hash) belongs to
// api/controlplane; the state machine decodes it there and converts the result into its own
// operations below.

// TxVersion is the version byte of the transaction wire form.
const TxVersion = cpapi.TxVersion

// MaxTxSize bounds the wire size of a transaction.
const MaxTxSize = cpapi.MaxTxSize

// Tx is a decoded transaction as the state machine executes it.
type Tx struct {
	ChainID string
	Sender  crypto.AccountPublicKey
	Nonce   uint64
	Op      Op
}

// Op is exactly one operation.
type Op struct {
	Transfer       *TransferOp
	RegisterNode   *RegisterNodeOp
	UpdateNode     *UpdateNodeOp
	SetVotes       *SetVotesOp
	Stake          *StakeOp
	WithdrawStake  *WithdrawStakeOp
	ReserveStorage *ReserveStorageOp
	SplitStorage   *SplitStorageOp
	FuseStorage    *FuseStorageOp
	RegisterBlob   *RegisterBlobOp
	CertifyBlob    *CertifyBlobOp
	InvalidateBlob *InvalidateBlobOp
	ExtendBlob     *ExtendBlobOp
	DeleteBlob     *DeleteBlobOp
	SetAttributes  *SetAttributesOp
	TransferObject *TransferObjectOp
	// Storage challenges (challenge.go).
	ChallengeShare       *ChallengeShareOp
	ChallengeCertificate *ChallengeCertificateOp
	ShareBlob            *ShareBlobOp
	FundSharedBlob       *FundSharedBlobOp
	EpochSyncDone        *EpochSyncDoneOp
	SetValidator         *SetValidatorOp
}

// ShareBlobOp makes an owned permanent blob a shared blob with Amount as its funds.
type ShareBlobOp struct {
	BlobObjectID ObjectID
	Amount       uint64
}

// FundSharedBlobOp adds Amount to a shared blob's funds.
type FundSharedBlobOp struct {
	BlobObjectID ObjectID
	Amount       uint64
}

// TransferOp sends tokens to another account.
type TransferOp struct {
	To     Address
	Amount uint64
}

// RegisterNodeOp registers a storage node owned by the sender.
type RegisterNodeOp struct {
	Name              string
	NetworkAddress    string
	NetworkPublicKey  []byte
	BLSPublicKey      crypto.BLSPublicKey
	ProofOfPossession crypto.BLSSignature
	Commission        uint16
	StoragePrice      uint64
	WritePrice        uint64
	Capacity          uint64
}

// UpdateNodeOp changes a node's metadata; nil fields stay.
type UpdateNodeOp struct {
	NodeID            ObjectID
	Name              *string
	NetworkAddress    *string
	NetworkPublicKey  []byte
	BLSPublicKey      *crypto.BLSPublicKey
	ProofOfPossession *crypto.BLSSignature
	Commission        *uint16
}

// SetVotesOp sets a node's price and capacity votes.
type SetVotesOp struct {
	NodeID       ObjectID
	StoragePrice uint64
	WritePrice   uint64
	Capacity     uint64
}

// StakeOp stakes tokens with a node.
type StakeOp struct {
	NodeID ObjectID
	Amount uint64
}

// WithdrawStakeOp withdraws a stake.
type WithdrawStakeOp struct {
	StakeID ObjectID
}

// ReserveStorageOp buys encoded storage.
type ReserveStorageOp struct {
	Size        uint64
	EpochsAhead uint32
}

// SplitStorageOp splits a storage resource by epoch or by size.
type SplitStorageOp struct {
	StorageID ObjectID
	AtEpoch   uint32
	Size      uint64
}

// FuseStorageOp fuses Second into First.
type FuseStorageOp struct {
	First  ObjectID
	Second ObjectID
}

// RegisterBlobOp registers a blob.
type RegisterBlobOp struct {
	StorageID    ObjectID
	EpochsAhead  uint32
	BlobID       blob.ID
	RootHash     Hash
	Size         uint64
	EncodingType uint8
	Deletable    bool
}

// CertifyBlobOp certifies a registered blob.
type CertifyBlobOp struct {
	BlobObjectID ObjectID
	Certificate  protocol.Certificate
}

// InvalidateBlobOp marks a blob ID invalid.
type InvalidateBlobOp struct {
	Certificate protocol.Certificate
}

// ExtendBlobOp pays for more epochs of a blob.
type ExtendBlobOp struct {
	BlobObjectID ObjectID
	Epochs       uint32
}

// DeleteBlobOp deletes a deletable blob.
type DeleteBlobOp struct {
	BlobObjectID ObjectID
}

// SetAttributesOp inserts or replaces attributes, then removes the keys in Remove.
type SetAttributesOp struct {
	BlobObjectID ObjectID
	Set          map[string]string
	Remove       []string
}

// TransferObjectOp gives a blob or storage resource to another owner.
type TransferObjectOp struct {
	ObjectID ObjectID
	To       Address
}

// EpochSyncDoneOp reports that a member holds every shard it gained at the change to Epoch,
// with its BLS signature of protocol.EpochSyncDone.
type EpochSyncDoneOp struct {
	NodeID    ObjectID
	Epoch     uint32
	Signature crypto.BLSSignature
}

// SetValidatorOp sets (or clears, with an empty PublicKey) a node's CometBFT validator key,
// with the key's signature of cpapi.ValidatorKeyMessage.
type SetValidatorOp struct {
	NodeID    ObjectID
	PublicKey []byte
	Signature []byte
}

// DecodeTx parses wire bytes (api/controlplane's DecodeTx: canonical form, signature) and
// returns the transaction as the state machine executes it.
func DecodeTx(wire []byte) (*Tx, error) {
	w, err := cpapi.DecodeTx(wire)
	if err != nil {
		return nil, err
	}
	return txFromAPI(w), nil
}

// TxHash returns the hash of a transaction's wire bytes.
func TxHash(wire []byte) Hash { return Hash(cpapi.TxHash(wire)) }

// Sign encodes tx in its wire form and signs it with key (whose public key must be
// tx.Sender).
func Sign(tx *Tx, key *crypto.AccountKey) ([]byte, error) {
	if key.PublicKey() != tx.Sender {
		return nil, fmt.Errorf("%w: key does not match the sender", ErrInvalidTx)
	}
	return cpapi.Sign(tx.API(), ed25519.NewKeyFromSeed(key.Seed()))
}

// Payload returns the canonical payload bytes of tx's wire form.
func (tx *Tx) Payload() ([]byte, error) { return tx.API().Payload() }

// SigningMessage returns the bytes an account key signs for payload.
func SigningMessage(payload []byte) []byte { return cpapi.SigningMessage(payload) }

// Assemble builds the wire bytes from a payload and its signature.
func Assemble(payload []byte, sig crypto.AccountSignature) []byte {
	return cpapi.Assemble(payload, cpapi.Signature(sig))
}

// API returns tx in the wire vocabulary.
func (tx *Tx) API() *cpapi.Tx {
	return &cpapi.Tx{ChainID: tx.ChainID, Sender: cpapi.PublicKey(tx.Sender), Nonce: tx.Nonce, Op: tx.Op.API()}
}

func txFromAPI(w *cpapi.Tx) *Tx {
	return &Tx{ChainID: w.ChainID, Sender: crypto.AccountPublicKey(w.Sender), Nonce: w.Nonce, Op: OpFromAPI(&w.Op)}
}

func certFromAPI(c cpapi.Certificate) protocol.Certificate {
	return protocol.Certificate{Signers: c.Signers, Message: c.Message, Signature: crypto.BLSSignature(c.Signature)}
}

func certToAPI(c protocol.Certificate) cpapi.Certificate {
	return cpapi.Certificate{Signers: c.Signers, Message: c.Message, Signature: cpapi.BLSSignature(c.Signature)}
}

// OpFromAPI converts an operation of the wire vocabulary into the state machine's.
func OpFromAPI(w *cpapi.Op) Op {
	var o Op
	if x := w.Transfer; x != nil {
		o.Transfer = &TransferOp{To: Address(x.To), Amount: x.Amount}
	}
	if x := w.RegisterNode; x != nil {
		o.RegisterNode = &RegisterNodeOp{Name: x.Name, NetworkAddress: x.NetworkAddress, NetworkPublicKey: x.NetworkPublicKey,
			BLSPublicKey: crypto.BLSPublicKey(x.BLSPublicKey), ProofOfPossession: crypto.BLSSignature(x.ProofOfPossession),
			Commission: x.Commission, StoragePrice: x.StoragePrice, WritePrice: x.WritePrice, Capacity: x.Capacity}
	}
	if x := w.UpdateNode; x != nil {
		u := &UpdateNodeOp{NodeID: ObjectID(x.NodeID), Name: x.Name, NetworkAddress: x.NetworkAddress,
			NetworkPublicKey: x.NetworkPublicKey, Commission: x.Commission}
		if x.BLSPublicKey != nil {
			k := crypto.BLSPublicKey(*x.BLSPublicKey)
			u.BLSPublicKey = &k
		}
		if x.ProofOfPossession != nil {
			p := crypto.BLSSignature(*x.ProofOfPossession)
			u.ProofOfPossession = &p
		}
		o.UpdateNode = u
	}
	if x := w.SetVotes; x != nil {
		o.SetVotes = &SetVotesOp{NodeID: ObjectID(x.NodeID), StoragePrice: x.StoragePrice, WritePrice: x.WritePrice, Capacity: x.Capacity}
	}
	if x := w.Stake; x != nil {
		o.Stake = &StakeOp{NodeID: ObjectID(x.NodeID), Amount: x.Amount}
	}
	if x := w.WithdrawStake; x != nil {
		o.WithdrawStake = &WithdrawStakeOp{StakeID: ObjectID(x.StakeID)}
	}
	if x := w.ReserveStorage; x != nil {
		o.ReserveStorage = &ReserveStorageOp{Size: x.Size, EpochsAhead: x.EpochsAhead}
	}
	if x := w.SplitStorage; x != nil {
		o.SplitStorage = &SplitStorageOp{StorageID: ObjectID(x.StorageID), AtEpoch: x.AtEpoch, Size: x.Size}
	}
	if x := w.FuseStorage; x != nil {
		o.FuseStorage = &FuseStorageOp{First: ObjectID(x.First), Second: ObjectID(x.Second)}
	}
	if x := w.RegisterBlob; x != nil {
		o.RegisterBlob = &RegisterBlobOp{StorageID: ObjectID(x.StorageID), EpochsAhead: x.EpochsAhead, BlobID: x.BlobID,
			RootHash: Hash(x.RootHash), Size: x.Size, EncodingType: x.EncodingType, Deletable: x.Deletable}
	}
	if x := w.CertifyBlob; x != nil {
		o.CertifyBlob = &CertifyBlobOp{BlobObjectID: ObjectID(x.BlobObjectID), Certificate: certFromAPI(x.Certificate)}
	}
	if x := w.InvalidateBlob; x != nil {
		o.InvalidateBlob = &InvalidateBlobOp{Certificate: certFromAPI(x.Certificate)}
	}
	if x := w.ExtendBlob; x != nil {
		o.ExtendBlob = &ExtendBlobOp{BlobObjectID: ObjectID(x.BlobObjectID), Epochs: x.Epochs}
	}
	if x := w.DeleteBlob; x != nil {
		o.DeleteBlob = &DeleteBlobOp{BlobObjectID: ObjectID(x.BlobObjectID)}
	}
	if x := w.SetAttributes; x != nil {
		o.SetAttributes = &SetAttributesOp{BlobObjectID: ObjectID(x.BlobObjectID), Set: x.Set, Remove: x.Remove}
	}
	if x := w.TransferObject; x != nil {
		o.TransferObject = &TransferObjectOp{ObjectID: ObjectID(x.ObjectID), To: Address(x.To)}
	}
	challengeOpsFromAPI(w, &o)
	if x := w.ShareBlob; x != nil {
		o.ShareBlob = &ShareBlobOp{BlobObjectID: ObjectID(x.BlobObjectID), Amount: x.Amount}
	}
	if x := w.FundSharedBlob; x != nil {
		o.FundSharedBlob = &FundSharedBlobOp{BlobObjectID: ObjectID(x.BlobObjectID), Amount: x.Amount}
	}
	if x := w.EpochSyncDone; x != nil {
		o.EpochSyncDone = &EpochSyncDoneOp{NodeID: ObjectID(x.NodeID), Epoch: x.Epoch, Signature: crypto.BLSSignature(x.Signature)}
	}
	if x := w.SetValidator; x != nil {
		o.SetValidator = &SetValidatorOp{NodeID: ObjectID(x.NodeID), PublicKey: x.PublicKey, Signature: x.Signature}
	}
	return o
}

// API returns the operation in the wire vocabulary.
func (o *Op) API() cpapi.Op {
	var w cpapi.Op
	if x := o.Transfer; x != nil {
		w.Transfer = &cpapi.TransferOp{To: cpapi.Address(x.To), Amount: x.Amount}
	}
	if x := o.RegisterNode; x != nil {
		w.RegisterNode = &cpapi.RegisterNodeOp{Name: x.Name, NetworkAddress: x.NetworkAddress, NetworkPublicKey: x.NetworkPublicKey,
			BLSPublicKey: cpapi.BLSPublicKey(x.BLSPublicKey), ProofOfPossession: cpapi.BLSSignature(x.ProofOfPossession),
			Commission: x.Commission, StoragePrice: x.StoragePrice, WritePrice: x.WritePrice, Capacity: x.Capacity}
	}
	if x := o.UpdateNode; x != nil {
		u := &cpapi.UpdateNodeOp{NodeID: cpapi.ObjectID(x.NodeID), Name: x.Name, NetworkAddress: x.NetworkAddress,
			NetworkPublicKey: x.NetworkPublicKey, Commission: x.Commission}
		if x.BLSPublicKey != nil {
			k := cpapi.BLSPublicKey(*x.BLSPublicKey)
			u.BLSPublicKey = &k
		}
		if x.ProofOfPossession != nil {
			p := cpapi.BLSSignature(*x.ProofOfPossession)
			u.ProofOfPossession = &p
		}
		w.UpdateNode = u
	}
	if x := o.SetVotes; x != nil {
		w.SetVotes = &cpapi.SetVotesOp{NodeID: cpapi.ObjectID(x.NodeID), StoragePrice: x.StoragePrice, WritePrice: x.WritePrice, Capacity: x.Capacity}
	}
	if x := o.Stake; x != nil {
		w.Stake = &cpapi.StakeOp{NodeID: cpapi.ObjectID(x.NodeID), Amount: x.Amount}
	}
	if x := o.WithdrawStake; x != nil {
		w.WithdrawStake = &cpapi.WithdrawStakeOp{StakeID: cpapi.ObjectID(x.StakeID)}
	}
	if x := o.ReserveStorage; x != nil {
		w.ReserveStorage = &cpapi.ReserveStorageOp{Size: x.Size, EpochsAhead: x.EpochsAhead}
	}
	if x := o.SplitStorage; x != nil {
		w.SplitStorage = &cpapi.SplitStorageOp{StorageID: cpapi.ObjectID(x.StorageID), AtEpoch: x.AtEpoch, Size: x.Size}
	}
	if x := o.FuseStorage; x != nil {
		w.FuseStorage = &cpapi.FuseStorageOp{First: cpapi.ObjectID(x.First), Second: cpapi.ObjectID(x.Second)}
	}
	if x := o.RegisterBlob; x != nil {
		w.RegisterBlob = &cpapi.RegisterBlobOp{StorageID: cpapi.ObjectID(x.StorageID), EpochsAhead: x.EpochsAhead, BlobID: x.BlobID,
			RootHash: cpapi.Hash(x.RootHash), Size: x.Size, EncodingType: x.EncodingType, Deletable: x.Deletable}
	}
	if x := o.CertifyBlob; x != nil {
		w.CertifyBlob = &cpapi.CertifyBlobOp{BlobObjectID: cpapi.ObjectID(x.BlobObjectID), Certificate: certToAPI(x.Certificate)}
	}
	if x := o.InvalidateBlob; x != nil {
		w.InvalidateBlob = &cpapi.InvalidateBlobOp{Certificate: certToAPI(x.Certificate)}
	}
	if x := o.ExtendBlob; x != nil {
		w.ExtendBlob = &cpapi.ExtendBlobOp{BlobObjectID: cpapi.ObjectID(x.BlobObjectID), Epochs: x.Epochs}
	}
	if x := o.DeleteBlob; x != nil {
		w.DeleteBlob = &cpapi.DeleteBlobOp{BlobObjectID: cpapi.ObjectID(x.BlobObjectID)}
	}
	if x := o.SetAttributes; x != nil {
		w.SetAttributes = &cpapi.SetAttributesOp{BlobObjectID: cpapi.ObjectID(x.BlobObjectID), Set: x.Set, Remove: x.Remove}
	}
	if x := o.TransferObject; x != nil {
		w.TransferObject = &cpapi.TransferObjectOp{ObjectID: cpapi.ObjectID(x.ObjectID), To: cpapi.Address(x.To)}
	}
	challengeOpsToAPI(o, &w)
	if x := o.ShareBlob; x != nil {
		w.ShareBlob = &cpapi.ShareBlobOp{BlobObjectID: cpapi.ObjectID(x.BlobObjectID), Amount: x.Amount}
	}
	if x := o.FundSharedBlob; x != nil {
		w.FundSharedBlob = &cpapi.FundSharedBlobOp{BlobObjectID: cpapi.ObjectID(x.BlobObjectID), Amount: x.Amount}
	}
	if x := o.EpochSyncDone; x != nil {
		w.EpochSyncDone = &cpapi.EpochSyncDoneOp{NodeID: cpapi.ObjectID(x.NodeID), Epoch: x.Epoch, Signature: cpapi.BLSSignature(x.Signature)}
	}
	if x := o.SetValidator; x != nil {
		w.SetValidator = &cpapi.SetValidatorOp{NodeID: cpapi.ObjectID(x.NodeID), PublicKey: x.PublicKey, Signature: x.Signature}
	}
	return w
}
