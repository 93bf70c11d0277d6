// Package blob is Floe's blob vocabulary, compatible with Walrus: blob IDs, metadata, the BCS
// wire forms of slivers and recovery symbols, the sliver-pair to shard mapping, and the
// verification of metadata and slivers.
package blob

import (
	"encoding/base64"
	"errors"
	"fmt"

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

// ParseID parses the URL-safe, unpadded base64 text form of a blob ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 43 {
		return id, fmt.Errorf("%w: %q has %d characters, want 43 (URL-safe base64 without padding)", ErrInvalidID, s, len(s))
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
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
