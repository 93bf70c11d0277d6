package controlplane

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// ErrMalformed is wrapped by every error of parsing an identifier, key or hash.
var ErrMalformed = errors.New("controlplane: malformed value")

// Sizes of the fixed-size wire values.
const (
	AddressLen      = 32
	ObjectIDLen     = 32
	HashLen         = 32
	PublicKeyLen    = ed25519.PublicKeySize
	SignatureLen    = ed25519.SignatureSize
	BLSPublicKeyLen = 48
	BLSSignatureLen = 96
)

// MiB is the storage unit: prices are per MiB of encoded size.
const MiB = 1 << 20

// Address is an account address: Blake2b-256(0x00 || ed25519 public key), as Sui derives it.
// Its text form is "0x" and 64 lowercase hex digits.
type Address [AddressLen]byte

// ObjectID identifies a blob object, storage resource, storage node or stake. Its text form is
// "0x" and 64 lowercase hex digits.
type ObjectID [ObjectIDLen]byte

// Hash is a 32-byte hash (transaction hashes, app hashes, Merkle roots); its text form is 64
// lowercase hex digits.
type Hash [HashLen]byte

// PublicKey is an account's ed25519 public key; its text form is 64 lowercase hex digits.
type PublicKey [PublicKeyLen]byte

// Signature is an ed25519 signature.
type Signature [SignatureLen]byte

// BLSPublicKey is a compressed BLS12-381 G1 public key of a storage node; its text form is
// standard base64. Parsing does not check that it is a valid point.
type BLSPublicKey [BLSPublicKeyLen]byte

// BLSSignature is a compressed BLS12-381 G2 signature; its text form is standard base64.
// Parsing does not check that it is a valid point.
type BLSSignature [BLSSignatureLen]byte

// Certificate is an aggregate BLS signature of Message by the committee members whose bits
// are set in Signers (byte i/8, bit i%8, least significant bit first, over the committee's
// member order).
type Certificate struct {
	Signers   []byte       `json:"signers"`
	Message   []byte       `json:"message"`
	Signature BLSSignature `json:"signature"`
}

func parse0xHex(dst []byte, s, what string) error {
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	return parseHex(dst, s, what)
}

func parseHex(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%w: %s has %d hex digits, want %d", ErrMalformed, what, len(s), 2*len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	return nil
}

func parseBase64(dst []byte, s, what string) error {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
		}
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%w: %s has %d bytes, want %d", ErrMalformed, what, len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

// ParseAddress parses an address, with or without the "0x" prefix.
func ParseAddress(s string) (Address, error) {
	var a Address
	return a, parse0xHex(a[:], s, "address")
}

// String returns "0x" and 64 lowercase hex digits.
func (a Address) String() string { return "0x" + hex.EncodeToString(a[:]) }

// IsZero reports whether a is all zeros.
func (a Address) IsZero() bool { return a == Address{} }

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error { return parse0xHex(a[:], string(b), "address") }

// ParseObjectID parses an object ID, with or without the "0x" prefix.
func ParseObjectID(s string) (ObjectID, error) {
	var id ObjectID
	return id, parse0xHex(id[:], s, "object ID")
}

// String returns "0x" and 64 lowercase hex digits.
func (id ObjectID) String() string { return "0x" + hex.EncodeToString(id[:]) }

// IsZero reports whether id is all zeros.
func (id ObjectID) IsZero() bool { return id == ObjectID{} }

// MarshalText implements encoding.TextMarshaler.
func (id ObjectID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ObjectID) UnmarshalText(b []byte) error {
	return parse0xHex(id[:], string(b), "object ID")
}

// ParseHash parses 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	return h, parseHex(h[:], s, "hash")
}

// String returns 64 lowercase hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error { return parseHex(h[:], string(b), "hash") }

// String returns 64 lowercase hex digits.
func (pk PublicKey) String() string { return hex.EncodeToString(pk[:]) }

// MarshalText implements encoding.TextMarshaler.
func (pk PublicKey) MarshalText() ([]byte, error) { return []byte(pk.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (pk *PublicKey) UnmarshalText(b []byte) error { return parseHex(pk[:], string(b), "public key") }

// Address returns the account address of pk: Blake2b-256(0x00 || pk).
func (pk PublicKey) Address() Address {
	var buf [1 + PublicKeyLen]byte
	copy(buf[1:], pk[:]) // buf[0] = 0x00, the ed25519 scheme flag
	return Address(blake2b.Sum256(buf[:]))
}

// Verify reports whether sig is pk's ed25519 signature of msg.
func (pk PublicKey) Verify(msg []byte, sig Signature) bool {
	return ed25519.Verify(pk[:], msg, sig[:])
}

// MarshalText implements encoding.TextMarshaler (hex).
func (s Signature) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(s[:])), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Signature) UnmarshalText(b []byte) error { return parseHex(s[:], string(b), "signature") }

// String returns the standard base64 form.
func (pk BLSPublicKey) String() string { return base64.StdEncoding.EncodeToString(pk[:]) }

// MarshalText implements encoding.TextMarshaler.
func (pk BLSPublicKey) MarshalText() ([]byte, error) { return []byte(pk.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (pk *BLSPublicKey) UnmarshalText(b []byte) error {
	return parseBase64(pk[:], string(b), "BLS public key")
}

// String returns the standard base64 form.
func (s BLSSignature) String() string { return base64.StdEncoding.EncodeToString(s[:]) }

// MarshalText implements encoding.TextMarshaler.
func (s BLSSignature) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *BLSSignature) UnmarshalText(b []byte) error {
	return parseBase64(s[:], string(b), "BLS signature")
}
