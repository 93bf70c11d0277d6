// Package protocol holds Walrus's signed protocol messages (spec §5.4) and certificates (§5.5):
// the intent header, the storage confirmation, invalid blob ID and proof-of-possession bodies,
// their byte-exact encodings, and the verification of aggregate certificates against a
// committee in member order.
package protocol

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
)

// IntentType is the first byte of a protocol message.
type IntentType uint8

// Intent types (spec §5.4).
const (
	IntentProofOfPossession IntentType = 0
	IntentBlobCertification IntentType = 1
	IntentInvalidBlobID     IntentType = 2
	IntentSyncShard         IntentType = 3
)

// Fixed intent fields.
const (
	IntentVersion = 0
	AppIDStorage  = 3
	// HeaderLen is intent type, version, app id and the u32 epoch.
	HeaderLen = 7
)

// Errors from decoding and verification.
var (
	ErrMalformed          = errors.New("protocol: malformed message")
	ErrWrongIntent        = errors.New("protocol: wrong intent")
	ErrBitmap             = errors.New("protocol: invalid signer bitmap")
	ErrInsufficientWeight = errors.New("protocol: signers' weight below the threshold")
	ErrBadCertificate     = errors.New("protocol: certificate signature does not verify")
)

// Header is the intent and epoch that prefix every message.
type Header struct {
	Intent IntentType
	Epoch  uint32
}

func appendHeader(b []byte, intent IntentType, epoch uint32) []byte {
	b = append(b, byte(intent), IntentVersion, AppIDStorage)
	return binary.LittleEndian.AppendUint32(b, epoch)
}

// ParseHeader decodes the header of msg and returns it with the body.
func ParseHeader(msg []byte) (Header, []byte, error) {
	if len(msg) < HeaderLen {
		return Header{}, nil, fmt.Errorf("%w: %d bytes, shorter than the header", ErrMalformed, len(msg))
	}
	if msg[1] != IntentVersion || msg[2] != AppIDStorage {
		return Header{}, nil, fmt.Errorf("%w: intent version %d app id %d, want %d and %d", ErrMalformed, msg[1], msg[2], IntentVersion, AppIDStorage)
	}
	h := Header{Intent: IntentType(msg[0]), Epoch: binary.LittleEndian.Uint32(msg[3:7])}
	return h, msg[HeaderLen:], nil
}

func parseWithIntent(msg []byte, want IntentType) (uint32, []byte, error) {
	h, body, err := ParseHeader(msg)
	if err != nil {
		return 0, nil, err
	}
	if h.Intent != want {
		return 0, nil, fmt.Errorf("%w: %d, want %d", ErrWrongIntent, h.Intent, want)
	}
	return h.Epoch, body, nil
}

// ObjectID identifies a control-plane object (a blob or a storage resource), 32 bytes like a
// Sui object ID.
type ObjectID [32]byte

// PersistenceType says whether a confirmed blob is permanent or deletable; a deletable blob's
// confirmation names its object.
type PersistenceType struct {
	Deletable bool
	ObjectID  ObjectID // only when Deletable
}

// Permanent is the permanent persistence type.
var Permanent = PersistenceType{}

// Deletable returns the persistence type of the deletable blob object id.
func Deletable(id ObjectID) PersistenceType { return PersistenceType{Deletable: true, ObjectID: id} }

// StorageConfirmation is the body a node signs once it stores a blob's slivers (intent 1).
type StorageConfirmation struct {
	Epoch       uint32
	BlobID      blob.ID
	Persistence PersistenceType
}

// Encode returns the signed bytes: header || blob_id || persistence type.
func (c StorageConfirmation) Encode() []byte {
	b := make([]byte, 0, HeaderLen+32+1+32)
	b = appendHeader(b, IntentBlobCertification, c.Epoch)
	b = append(b, c.BlobID[:]...)
	if c.Persistence.Deletable {
		b = append(b, 1)
		b = append(b, c.Persistence.ObjectID[:]...)
	} else {
		b = append(b, 0)
	}
	return b
}

// DecodeStorageConfirmation parses a storage confirmation message.
func DecodeStorageConfirmation(msg []byte) (StorageConfirmation, error) {
	var c StorageConfirmation
	epoch, body, err := parseWithIntent(msg, IntentBlobCertification)
	if err != nil {
		return c, err
	}
	c.Epoch = epoch
	if len(body) < 33 {
		return c, fmt.Errorf("%w: confirmation body has %d bytes", ErrMalformed, len(body))
	}
	copy(c.BlobID[:], body[:32])
	switch body[32] {
	case 0:
		if len(body) != 33 {
			return c, fmt.Errorf("%w: permanent confirmation body has %d bytes, want 33", ErrMalformed, len(body))
		}
	case 1:
		if len(body) != 65 {
			return c, fmt.Errorf("%w: deletable confirmation body has %d bytes, want 65", ErrMalformed, len(body))
		}
		c.Persistence.Deletable = true
		copy(c.Persistence.ObjectID[:], body[33:])
	default:
		return c, fmt.Errorf("%w: persistence type %d", ErrMalformed, body[32])
	}
	return c, nil
}

// InvalidBlobID is the body nodes sign to declare a blob ID inconsistently encoded (intent 2).
type InvalidBlobID struct {
	Epoch  uint32
	BlobID blob.ID
}

// Encode returns header || blob_id.
func (m InvalidBlobID) Encode() []byte {
	b := make([]byte, 0, HeaderLen+32)
	b = appendHeader(b, IntentInvalidBlobID, m.Epoch)
	return append(b, m.BlobID[:]...)
}

// DecodeInvalidBlobID parses an invalid-blob-ID message.
func DecodeInvalidBlobID(msg []byte) (InvalidBlobID, error) {
	var m InvalidBlobID
	epoch, body, err := parseWithIntent(msg, IntentInvalidBlobID)
	if err != nil {
		return m, err
	}
	if len(body) != 32 {
		return m, fmt.Errorf("%w: invalid blob ID body has %d bytes, want 32", ErrMalformed, len(body))
	}
	m.Epoch = epoch
	copy(m.BlobID[:], body)
	return m, nil
}

// ProofOfPossession is the message a node signs with its BLS key when it registers (intent 0):
// it binds the key to the registering account's address.
type ProofOfPossession struct {
	Epoch     uint32
	Address   crypto.Address
	PublicKey crypto.BLSPublicKey
}

// Encode returns header || address || public key.
func (p ProofOfPossession) Encode() []byte {
	b := make([]byte, 0, HeaderLen+32+48)
	b = appendHeader(b, IntentProofOfPossession, p.Epoch)
	b = append(b, p.Address[:]...)
	return append(b, p.PublicKey[:]...)
}

// DecodeProofOfPossession parses a proof-of-possession message.
func DecodeProofOfPossession(msg []byte) (ProofOfPossession, error) {
	var p ProofOfPossession
	epoch, body, err := parseWithIntent(msg, IntentProofOfPossession)
	if err != nil {
		return p, err
	}
	if len(body) != 32+48 {
		return p, fmt.Errorf("%w: proof of possession body has %d bytes, want 80", ErrMalformed, len(body))
	}
	p.Epoch = epoch
	copy(p.Address[:], body[:32])
	copy(p.PublicKey[:], body[32:])
	return p, nil
}

// SignProofOfPossession returns the proof of possession of key for address at epoch.
func SignProofOfPossession(key *crypto.BLSSecretKey, address crypto.Address, epoch uint32) crypto.BLSSignature {
	return key.Sign(ProofOfPossession{Epoch: epoch, Address: address, PublicKey: key.PublicKey()}.Encode())
}

// VerifyProofOfPossession checks pop for (pk, address, epoch); pk must be a valid key.
func VerifyProofOfPossession(pk crypto.BLSPublicKey, address crypto.Address, epoch uint32, pop crypto.BLSSignature) error {
	msg := ProofOfPossession{Epoch: epoch, Address: address, PublicKey: pk}.Encode()
	if err := crypto.VerifyBLS(pk, msg, pop); err != nil {
		return fmt.Errorf("protocol: proof of possession: %w", err)
	}
	return nil
}

// String returns "0x" and 64 lowercase hex digits.
func (id ObjectID) String() string { return "0x" + hex.EncodeToString(id[:]) }

// ParseObjectID parses an object ID with or without the 0x prefix.
func ParseObjectID(s string) (ObjectID, error) {
	var id ObjectID
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	if len(s) != 64 {
		return id, fmt.Errorf("%w: object ID %q has %d hex digits, want 64", ErrMalformed, s, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: object ID %q: %w", ErrMalformed, s, err)
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ObjectID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ObjectID) UnmarshalText(b []byte) error {
	v, err := ParseObjectID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
