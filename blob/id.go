// Package blob is Floe's blob vocabulary, compatible with Walrus: blob IDs, metadata, the BCS
// wire forms of slivers and recovery symbols, the sliver-pair to shard mapping, and the
// verification of metadata and slivers.
package blob

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/blake2b"

	"github.com/floelabs/floe/internal/merkle"
)

// IDLen is the length of a blob ID in bytes.
const IDLen = 32

// ID is a blob ID: Blake2b-256(encoding_type u8 || unencoded_length u64 LE || root hash).
type ID [IDLen]byte

// ErrInvalidID is returned when a blob ID's text form does not parse.
var ErrInvalidID = errors.New("blob: invalid blob ID")

// EncodingType identifies the erasure code. Only RS2 exists.
type EncodingType uint8

// RS2 is the RedStuff Reed-Solomon encoding (BCS enum index 1).
const RS2 EncodingType = 1

// String returns "RS2" for RS2.
func (t EncodingType) String() string {
	if t == RS2 {
		return "RS2"
	}
	return fmt.Sprintf("EncodingType(%d)", uint8(t))
}

// DeriveID computes the blob ID from the encoding type, the unencoded length and the Merkle
// root over the sliver pair hashes, exactly as Walrus's contract does.
func DeriveID(t EncodingType, unencodedLength uint64, root merkle.Node) ID {
	var buf [41]byte
	buf[0] = byte(t)
	for i := 0; i < 8; i++ {
		buf[1+i] = byte(unencodedLength >> (8 * i))
	}
	copy(buf[9:], root[:])
	return ID(blake2b.Sum256(buf[:]))
}

// String returns the URL-safe base64 form without padding (43 characters).
func (id ID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ParseID parses the URL-safe, unpadded base64 text form of a blob ID (canonical: the unused
// low bits of the last character must be zero).
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 43 {
		return id, fmt.Errorf("%w: %q has %d characters, want 43 (URL-safe base64 without padding)", ErrInvalidID, s, len(s))
	}
	// Strict: like Walrus's base64 decoder, refuse non-zero unused bits in the last character,
	// so that every ID has exactly one text form.
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return id, fmt.Errorf("%w: %q: %w", ErrInvalidID, s, err)
	}
	if len(b) != IDLen {
		return id, fmt.Errorf("%w: %q decodes to %d bytes, want 32", ErrInvalidID, s, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// MarshalText implements encoding.TextMarshaler (the base64url form).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ErrUnsupportedEncoding is returned for an encoding type other than RS2.
var ErrUnsupportedEncoding = errors.New("blob: unsupported encoding type")

// IDFromBytes returns the ID whose raw bytes are b, which must be exactly 32 bytes long.
func IDFromBytes(b []byte) (ID, error) {
	var id ID
	if len(b) != IDLen {
		return id, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidID, len(b), IDLen)
	}
	copy(id[:], b)
	return id, nil
}

// Decimal returns the ID as the decimal u256 that Walrus shows on chain: its 32 bytes read
// little-endian.
func (id ID) Decimal() string {
	var be [IDLen]byte
	for i := range id {
		be[IDLen-1-i] = id[i]
	}
	return new(big.Int).SetBytes(be[:]).String()
}

// IDFromDecimal parses the on-chain decimal u256 form of a blob ID (see Decimal).
func IDFromDecimal(s string) (ID, error) {
	var id ID
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || v.BitLen() > 8*IDLen || strings.ContainsAny(s, "+-") {
		return id, fmt.Errorf("%w: %q is not a decimal u256", ErrInvalidID, s)
	}
	var be [IDLen]byte
	v.FillBytes(be[:])
	for i := range be {
		id[IDLen-1-i] = be[i]
	}
	return id, nil
}

// ParseEncodingType parses an encoding type name: "RS2", "reed-solomon" or
// "redstuff/reed-solomon", case-insensitively (the names Walrus's CLI accepts).
func ParseEncodingType(s string) (EncodingType, error) {
	for _, name := range [...]string{"RS2", "reed-solomon", "redstuff/reed-solomon"} {
		if strings.EqualFold(s, name) {
			return RS2, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnsupportedEncoding, s)
}

// Supported reports whether t is an encoding type Floe can encode and decode (only RS2).
func (t EncodingType) Supported() bool { return t == RS2 }

// MarshalText implements encoding.TextMarshaler: "RS2", the JSON form Walrus uses.
func (t EncodingType) MarshalText() ([]byte, error) {
	if !t.Supported() {
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedEncoding, uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, accepting the names ParseEncodingType
// accepts.
func (t *EncodingType) UnmarshalText(b []byte) error {
	v, err := ParseEncodingType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}
