package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/blake2b"
)

// Sizes of account keys and addresses.
const (
	AccountPublicKeyLen = ed25519.PublicKeySize
	AccountSignatureLen = ed25519.SignatureSize
	AccountSeedLen      = ed25519.SeedSize
	AddressLen          = 32
)

// ed25519Flag is the signature-scheme flag hashed into an address (as Sui does).
const ed25519Flag = 0x00

// Errors about account keys.
var (
	ErrInvalidAccountKey = errors.New("crypto: invalid account key")
	ErrInvalidAddress    = errors.New("crypto: invalid address")
)

// AccountPublicKey is an ed25519 public key.
type AccountPublicKey [AccountPublicKeyLen]byte

// AccountSignature is an ed25519 signature.
type AccountSignature [AccountSignatureLen]byte

// Address identifies an account: Blake2b-256(0x00 || ed25519 public key), as Sui derives it.
type Address [AddressLen]byte

// AccountKey is an ed25519 private key.
type AccountKey struct {
	priv ed25519.PrivateKey
}

// GenerateAccountKey creates an account key from r (crypto/rand if nil).
func GenerateAccountKey(r io.Reader) (*AccountKey, error) {
	if r == nil {
		r = rand.Reader
	}
	var seed [AccountSeedLen]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return nil, fmt.Errorf("crypto: reading key material: %w", err)
	}
	return AccountKeyFromSeed(seed[:])
}

// AccountKeyFromSeed returns the key with the given 32-byte seed.
func AccountKeyFromSeed(seed []byte) (*AccountKey, error) {
	if len(seed) != AccountSeedLen {
		return nil, fmt.Errorf("%w: seed has %d bytes, want %d", ErrInvalidAccountKey, len(seed), AccountSeedLen)
	}
	return &AccountKey{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// Seed returns the 32-byte seed.
func (k *AccountKey) Seed() []byte { return k.priv.Seed() }

// PublicKey returns the public key.
func (k *AccountKey) PublicKey() AccountPublicKey {
	var pk AccountPublicKey
	copy(pk[:], k.priv.Public().(ed25519.PublicKey))
	return pk
}

// Address returns the account's address.
func (k *AccountKey) Address() Address { return k.PublicKey().Address() }

// Sign signs msg.
func (k *AccountKey) Sign(msg []byte) AccountSignature {
	var s AccountSignature
	copy(s[:], ed25519.Sign(k.priv, msg))
	return s
}

// Verify reports whether sig is pk's signature of msg.
func (pk AccountPublicKey) Verify(msg []byte, sig AccountSignature) bool {
	return ed25519.Verify(pk[:], msg, sig[:])
}

// Address returns Blake2b-256(0x00 || pk).
func (pk AccountPublicKey) Address() Address {
	var buf [1 + AccountPublicKeyLen]byte
	buf[0] = ed25519Flag
	copy(buf[1:], pk[:])
	return Address(blake2b.Sum256(buf[:]))
}

// String returns the lowercase hex form.
func (pk AccountPublicKey) String() string { return hex.EncodeToString(pk[:]) }

// MarshalText implements encoding.TextMarshaler (hex).
func (pk AccountPublicKey) MarshalText() ([]byte, error) { return []byte(pk.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (pk *AccountPublicKey) UnmarshalText(b []byte) error {
	return decodeHex(pk[:], string(b), ErrInvalidAccountKey)
}

// MarshalText implements encoding.TextMarshaler (hex).
func (s AccountSignature) MarshalText() ([]byte, error) {
	return []byte(hex.EncodeToString(s[:])), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *AccountSignature) UnmarshalText(b []byte) error {
	return decodeHex(s[:], string(b), ErrInvalidAccountKey)
}

// String returns "0x" followed by 64 lowercase hex digits.
func (a Address) String() string { return "0x" + hex.EncodeToString(a[:]) }

// ParseAddress parses an address with or without the 0x prefix.
func ParseAddress(s string) (Address, error) {
	var a Address
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		s = s[2:]
	}
	err := decodeHex(a[:], s, ErrInvalidAddress)
	return a, err
}

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

func decodeHex(dstBuf []byte, s string, kind error) error {
	if len(s) != 2*len(dstBuf) {
		return fmt.Errorf("%w: %d hex digits, want %d", kind, len(s), 2*len(dstBuf))
	}
	if _, err := hex.Decode(dstBuf, []byte(s)); err != nil {
		return fmt.Errorf("%w: %w", kind, err)
	}
	return nil
}
