package redstuff

import (
	"errors"
	"fmt"
)

// Limits of the encoding (spec §1, §2.1).
const (
	// MinShards is the smallest supported number of shards.
	MinShards = 4
	// MaxShards is the largest number of shards the code could address (n is a u16); NewParams
	// refuses n whose codes reed-solomon-simd cannot build.
	MaxShards = 65535
	// MaxSymbolSize is the largest symbol size in bytes (u16::MAX - 1; symbols are even).
	MaxSymbolSize = 65534
	// SymbolAlignment is the alignment of symbol sizes for RS2.
	SymbolAlignment = 2
)

// Errors about parameters and sizes.
var (
	ErrShardCount   = errors.New("redstuff: unsupported number of shards")
	ErrDataTooLarge = errors.New("redstuff: the data is too large to be encoded")
)

// Params are the encoding parameters derived from the number of shards n.
type Params struct {
	// NShards is n, the number of shards and of sliver pairs.
	NShards int
	// F is the number of faulty shards tolerated, floor((n-1)/3).
	F int
	// PrimarySource is K_p = n-2f: the rows of the message matrix, the symbols of a secondary
	// sliver, and the number of primary slivers needed to decode.
	PrimarySource int
	// SecondarySource is K_s = n-f: the columns of the message matrix, the symbols of a
	// primary sliver, and the number of secondary slivers needed to decode.
	SecondarySource int
}

// NewParams returns the parameters for n shards.
func NewParams(nShards int) (Params, error) {
	if nShards < MinShards || nShards > MaxShards {
		return Params{}, fmt.Errorf("%w: %d (must be %d..%d)", ErrShardCount, nShards, MinShards, MaxShards)
	}
	f := (nShards - 1) / 3
	p := Params{NShards: nShards, F: f, PrimarySource: nShards - 2*f, SecondarySource: nShards - f}
	return p, nil
}

// Quorum returns n-f, the shard weight of a quorum.
func (p Params) Quorum() int { return p.NShards - p.F }

// Validity returns f+1, the shard weight that includes at least one correct shard.
func (p Params) Validity() int { return p.F + 1 }

// SourceSymbols returns K_p*K_s, the number of source symbols of a blob.
func (p Params) SourceSymbols() uint64 {
	return uint64(p.PrimarySource) * uint64(p.SecondarySource)
}

// MaxBlobSize returns the largest blob length that can be encoded: K_p*K_s*65534.
func (p Params) MaxBlobSize() uint64 { return p.SourceSymbols() * MaxSymbolSize }

// SymbolSize returns the symbol size for a blob of the given length: ceil(max(L,1)/(K_p*K_s))
// rounded up to an even number, or ErrDataTooLarge.
func (p Params) SymbolSize(length uint64) (int, error) {
	if length > p.MaxBlobSize() {
		return 0, fmt.Errorf("%w: %d bytes > %d bytes, the limit for %d shards", ErrDataTooLarge, length, p.MaxBlobSize(), p.NShards)
	}
	l := max(length, 1)
	per := p.SourceSymbols()
	s := (l + per - 1) / per
	if s%SymbolAlignment != 0 {
		s += SymbolAlignment - s%SymbolAlignment
	}
	return int(s), nil
}

// PrimarySliverLen returns the byte length of a primary sliver (K_s symbols).
func (p Params) PrimarySliverLen(symbolSize int) int { return p.SecondarySource * symbolSize }

// SecondarySliverLen returns the byte length of a secondary sliver (K_p symbols).
func (p Params) SecondarySliverLen(symbolSize int) int { return p.PrimarySource * symbolSize }

// SliverLen returns the byte length of a sliver of the given axis.
func (p Params) SliverLen(a Axis, symbolSize int) int {
	if a == Primary {
		return p.PrimarySliverLen(symbolSize)
	}
	return p.SecondarySliverLen(symbolSize)
}

// SymbolCount returns how many symbols a sliver of axis a has (K_s for primary, K_p for
// secondary), which is also how many slivers of the other axis decode the blob and how many
// recovery symbols rebuild a sliver of axis a.
func (p Params) SymbolCount(a Axis) int {
	if a == Primary {
		return p.SecondarySource
	}
	return p.PrimarySource
}

// EncodedLength returns the encoded length charged for a blob of the given length:
// n * ((K_p + K_s) * s + n*64 + 32).
func (p Params) EncodedLength(length uint64) (uint64, error) {
	s, err := p.SymbolSize(length)
	if err != nil {
		return 0, err
	}
	n := uint64(p.NShards)
	return n * (uint64(p.PrimarySource+p.SecondarySource)*uint64(s) + n*64 + 32), nil
}

// Axis says whether a sliver (or a recovery symbol's target) is primary or secondary.
type Axis uint8

// The two axes; the values are their BCS enum indices.
const (
	Primary   Axis = 0
	Secondary Axis = 1
)

// String returns "primary" or "secondary", the JSON and URL form.
func (a Axis) String() string {
	switch a {
	case Primary:
		return "primary"
	case Secondary:
		return "secondary"
	}
	return fmt.Sprintf("Axis(%d)", uint8(a))
}

// Other returns the other axis.
func (a Axis) Other() Axis { return 1 - a }

// PairIndex returns the sliver pair that holds sliver index i of axis a: i for primary,
// n-1-i for secondary.
func (p Params) PairIndex(a Axis, i int) int {
	if a == Primary {
		return i
	}
	return p.NShards - 1 - i
}

// SliverIndex returns the index of the sliver of axis a in pair pair: pair for primary,
// n-1-pair for secondary.
func (p Params) SliverIndex(a Axis, pair int) int { return p.PairIndex(a, pair) }
