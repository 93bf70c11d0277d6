package blob

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/floelabs/floe/internal/bcs"
	"github.com/floelabs/floe/redstuff"
)

// ErrInvalidSymbolID is returned when a SymbolID's text form does not parse.
var ErrInvalidSymbolID = errors.New("blob: invalid symbol ID")

// SymbolID names the symbol E[Primary][Secondary] of the expanded matrix: the symbol shared
// by primary sliver Primary and secondary sliver Secondary. Its text form is "P-S" (as in the
// id= parameters of a recoverySymbols request), its BCS form (u16, u16).
type SymbolID struct {
	Primary   uint16
	Secondary uint16
}

// String returns the "P-S" form.
func (s SymbolID) String() string {
	var b [11]byte
	out := strconv.AppendUint(b[:0], uint64(s.Primary), 10)
	out = append(out, '-')
	out = strconv.AppendUint(out, uint64(s.Secondary), 10)
	return string(out)
}

// ParseSymbolID parses the "P-S" form: two decimal u16 sliver indices joined by a dash.
func ParseSymbolID(s string) (SymbolID, error) {
	ps, ss, ok := strings.Cut(s, "-")
	if !ok {
		return SymbolID{}, fmt.Errorf("%w: %q (want \"primary-secondary\")", ErrInvalidSymbolID, s)
	}
	p, err := parseU16(ps)
	if err != nil {
		return SymbolID{}, fmt.Errorf("%w: %q: primary index: %w", ErrInvalidSymbolID, s, err)
	}
	q, err := parseU16(ss)
	if err != nil {
		return SymbolID{}, fmt.Errorf("%w: %q: secondary index: %w", ErrInvalidSymbolID, s, err)
	}
	return SymbolID{Primary: p, Secondary: q}, nil
}

// parseU16 parses a plain decimal u16 (digits only).
func parseU16(s string) (uint16, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, err
	}
	return uint16(v), nil
}

// MarshalText implements encoding.TextMarshaler ("P-S").
func (s SymbolID) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *SymbolID) UnmarshalText(b []byte) error {
	v, err := ParseSymbolID(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// AppendBCS appends the BCS form (primary u16, secondary u16) to dst.
func (s SymbolID) AppendBCS(dst []byte) []byte {
	return append(dst, byte(s.Primary), byte(s.Primary>>8), byte(s.Secondary), byte(s.Secondary>>8))
}

// UnmarshalBCS decodes the BCS form (u16, u16). On error s is unchanged.
func (s *SymbolID) UnmarshalBCS(b []byte) error {
	d := bcs.NewDecoder(b)
	p, q := d.U16(), d.U16()
	if err := d.Finish(); err != nil {
		return malformed("SymbolId", err)
	}
	*s = SymbolID{Primary: p, Secondary: q}
	return nil
}

// SliverType is a sliver axis in Walrus's SliverType form: BCS variant 0/1, and "primary" /
// "secondary" in JSON and URLs.
type SliverType redstuff.Axis

// The two sliver types.
const (
	PrimarySliver   = SliverType(redstuff.Primary)
	SecondarySliver = SliverType(redstuff.Secondary)
)

// Axis returns t as a redstuff.Axis.
func (t SliverType) Axis() redstuff.Axis { return redstuff.Axis(t) }

// String returns "primary" or "secondary".
func (t SliverType) String() string { return redstuff.Axis(t).String() }

// ParseSliverType parses "primary" or "secondary" (exactly, as Walrus's routes do).
func ParseSliverType(s string) (SliverType, error) {
	switch s {
	case "primary":
		return PrimarySliver, nil
	case "secondary":
		return SecondarySliver, nil
	}
	return 0, fmt.Errorf("%w: %q (want \"primary\" or \"secondary\")", ErrInvalidAxis, s)
}

// ParseAxis parses "primary" or "secondary" into a redstuff.Axis.
func ParseAxis(s string) (redstuff.Axis, error) {
	t, err := ParseSliverType(s)
	return t.Axis(), err
}

// MarshalText implements encoding.TextMarshaler.
func (t SliverType) MarshalText() ([]byte, error) {
	if err := checkAxis(t.Axis()); err != nil {
		return nil, err
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *SliverType) UnmarshalText(b []byte) error {
	v, err := ParseSliverType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// AppendBCS appends the BCS variant index of t (0 or 1) to dst.
func (t SliverType) AppendBCS(dst []byte) ([]byte, error) {
	if err := checkAxis(t.Axis()); err != nil {
		return nil, err
	}
	return append(dst, byte(t)), nil
}

// UnmarshalBCS decodes a BCS SliverType. On error t is unchanged.
func (t *SliverType) UnmarshalBCS(b []byte) error {
	d := bcs.NewDecoder(b)
	a := decodeAxis(d, "SliverType")
	if err := d.Finish(); err != nil {
		return malformed("SliverType", err)
	}
	*t = SliverType(a)
	return nil
}
