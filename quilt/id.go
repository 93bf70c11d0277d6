package quilt

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/floelabs/floe/blob"
)

// Sizes of patch IDs.
const (
	// InternalIDLen is the length of a V1 internal patch ID: version, u16le start, u16le end.
	InternalIDLen = 5
	// PatchIDLen is the length of a QuiltPatchId: the quilt's blob ID and the internal ID.
	PatchIDLen = blob.IDLen + InternalIDLen
	// PatchIDStringLen is the length of a QuiltPatchId's text form (base64url, no padding).
	PatchIDStringLen = (PatchIDLen*8 + 5) / 6
)

// InternalID names a patch within its quilt: the columns [Start, End) it occupies.
type InternalID struct {
	Start, End uint16
}

// Bytes returns the 5-byte V1 encoding: 0x01 || u16le Start || u16le End.
func (id InternalID) Bytes() [InternalIDLen]byte {
	var b [InternalIDLen]byte
	b[0] = Version
	binary.LittleEndian.PutUint16(b[1:], id.Start)
	binary.LittleEndian.PutUint16(b[3:], id.End)
	return b
}

// SliverIndices returns the secondary sliver indices (columns) of the patch.
func (id InternalID) SliverIndices() []int { return span(int(id.Start), int(id.End)) }

// ParseInternalID decodes a 5-byte V1 internal patch ID. Besides Walrus's checks (length,
// version) it requires Start < End, which every patch satisfies.
func ParseInternalID(b []byte) (InternalID, error) {
	if len(b) != InternalIDLen {
		return InternalID{}, fmt.Errorf("%w: internal patch ID of %d bytes, want %d", ErrInvalidPatchID, len(b), InternalIDLen)
	}
	if b[0] != Version {
		return InternalID{}, fmt.Errorf("%w: internal patch ID version %d", ErrUnsupportedVersion, b[0])
	}
	id := InternalID{Start: binary.LittleEndian.Uint16(b[1:]), End: binary.LittleEndian.Uint16(b[3:])}
	if id.Start >= id.End {
		return InternalID{}, fmt.Errorf("%w: empty column range [%d, %d)", ErrInvalidPatchID, id.Start, id.End)
	}
	return id, nil
}

// PatchID is a QuiltPatchId: a patch of the quilt whose blob ID is Quilt. Its text form is the
// URL-safe base64 (no padding) of Quilt || Patch.Bytes(), 50 characters.
type PatchID struct {
	Quilt blob.ID
	Patch InternalID
}

// Bytes returns the 37-byte form.
func (p PatchID) Bytes() [PatchIDLen]byte {
	var b [PatchIDLen]byte
	copy(b[:], p.Quilt[:])
	ib := p.Patch.Bytes()
	copy(b[blob.IDLen:], ib[:])
	return b
}

// String returns the text form, as Walrus prints it.
func (p PatchID) String() string {
	b := p.Bytes()
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// MarshalText implements encoding.TextMarshaler (the text form).
func (p PatchID) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *PatchID) UnmarshalText(b []byte) error {
	id, err := ParsePatchID(string(b))
	if err != nil {
		return err
	}
	*p = id
	return nil
}

// PatchIDFromBytes decodes the 37-byte form.
func PatchIDFromBytes(b []byte) (PatchID, error) {
	if len(b) != PatchIDLen {
		return PatchID{}, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidPatchID, len(b), PatchIDLen)
	}
	in, err := ParseInternalID(b[blob.IDLen:])
	if err != nil {
		return PatchID{}, err
	}
	var p PatchID
	copy(p.Quilt[:], b[:blob.IDLen])
	p.Patch = in
	return p, nil
}

// ParsePatchID parses the text form of a V1 QuiltPatchId. Like Walrus it refuses padding and
// non-zero unused bits, so every patch ID has exactly one text form.
func ParsePatchID(s string) (PatchID, error) {
	if len(s) != PatchIDStringLen {
		return PatchID{}, fmt.Errorf("%w: %.60q has %d characters, want %d (URL-safe base64 without padding)", ErrInvalidPatchID, s, len(s), PatchIDStringLen)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return PatchID{}, fmt.Errorf("%w: %q: %w", ErrInvalidPatchID, s, err)
	}
	return PatchIDFromBytes(b)
}
