package quilt

import (
	"fmt"

	"github.com/floelabs/floe/redstuff"
)

// Format constants of QuiltV1.
const (
	// Version is the quilt format version byte (QuiltV1).
	Version = 0x01
	// MaxIndexColumns is the most columns the index may occupy.
	MaxIndexColumns = 10
	// IndexPrefixSize is the size of the index's prefix: version byte and u32le length.
	IndexPrefixSize = 5
	// PatchHeaderSize is the size of a patch header: version byte, u32le length, mask byte.
	PatchHeaderSize = 6
	// tagsFlag is the patch header mask bit that says tags follow the identifier.
	tagsFlag = 0x01
)

// Layout is the geometry of a quilt blob for n shards: a matrix of Rows (K_p) x Columns (K_s)
// symbols of SymbolSize bytes, stored row by row, whose column c is secondary sliver c.
type Layout struct {
	NShards    int
	Rows       int // K_p: symbols per column
	Columns    int // K_s: the columns, one per systematic secondary sliver
	SymbolSize int
}

// NewLayout returns the layout of a quilt for n shards with the given symbol size (even, at
// most 65534).
func NewLayout(nShards, symbolSize int) (Layout, error) {
	p, err := redstuff.NewParams(nShards)
	if err != nil {
		return Layout{}, err
	}
	if symbolSize <= 0 || symbolSize%redstuff.SymbolAlignment != 0 || symbolSize > redstuff.MaxSymbolSize {
		return Layout{}, fmt.Errorf("%w: symbol size %d (must be even, 2..%d)", ErrMalformed, symbolSize, redstuff.MaxSymbolSize)
	}
	return Layout{NShards: nShards, Rows: p.PrimarySource, Columns: p.SecondarySource, SymbolSize: symbolSize}, nil
}

// LayoutForBlob returns the layout of a quilt blob from its metadata: n shards and the blob's
// unencoded length, which for a quilt is the whole matrix, K_p*K_s*SymbolSize bytes.
func LayoutForBlob(nShards int, unencodedLength uint64) (Layout, error) {
	p, err := redstuff.NewParams(nShards)
	if err != nil {
		return Layout{}, err
	}
	per := p.SourceSymbols()
	if unencodedLength == 0 || unencodedLength%per != 0 {
		return Layout{}, fmt.Errorf("%w: a quilt blob of %d bytes is not a whole %dx%d matrix", ErrMalformed, unencodedLength, p.PrimarySource, p.SecondarySource)
	}
	s := unencodedLength / per
	if s > redstuff.MaxSymbolSize {
		return Layout{}, fmt.Errorf("%w: a quilt blob of %d bytes is too long for %d shards", ErrMalformed, unencodedLength, nShards)
	}
	return NewLayout(nShards, int(s))
}

// ColumnSize returns the bytes of one column (one secondary sliver): Rows*SymbolSize.
func (l Layout) ColumnSize() int { return l.Rows * l.SymbolSize }

// RowSize returns the bytes of one row of the matrix: Columns*SymbolSize.
func (l Layout) RowSize() int { return l.Columns * l.SymbolSize }

// BlobLength returns the length of the quilt blob: the whole matrix.
func (l Layout) BlobLength() int { return l.Rows * l.Columns * l.SymbolSize }

// columnsFor returns how many columns size bytes occupy.
func (l Layout) columnsFor(size int) int {
	cs := l.ColumnSize()
	return (size + cs - 1) / cs
}

// symbolSize returns the smallest symbol size for which items of the given sizes (the index
// first) each fit into whole columns of nRows symbols, nCols columns in all, with the index in
// at most maxIndexCols columns (MaxIndexColumns for quilts). It follows Walrus's search exactly (compute_symbol_size):
// a binary search between a lower and an upper bound, then rounding up to even.
func symbolSize(sizes []uint64, nCols, nRows, maxIndexCols int) (int, error) {
	if len(sizes) > nCols {
		return 0, fmt.Errorf("%w: %d patches, at most %d fit next to the index for %d columns", ErrTooManyPatches, len(sizes)-1, nCols-1, nCols)
	}
	if len(sizes) == 0 {
		return 0, fmt.Errorf("%w: no items", ErrMalformed) // the index is always there
	}
	cols, rows := uint64(nCols), uint64(nRows)
	var total, largest uint64
	for _, s := range sizes {
		total += s
		largest = max(largest, s)
	}
	lo := max(ceilDiv(total, cols*rows), ceilDiv(sizes[0], rows*uint64(maxIndexCols)), ceilDiv(IndexPrefixSize, rows))
	hi := ceilDiv(largest, cols/uint64(len(sizes))*rows)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fits(sizes, cols, mid*rows) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	s := lo + lo%redstuff.SymbolAlignment
	if s > redstuff.MaxSymbolSize {
		return 0, fmt.Errorf("%w: the patches need symbols of %d bytes, more than %d; store fewer or smaller files", ErrTooLarge, s, redstuff.MaxSymbolSize)
	}
	return int(s), nil
}

// fits reports whether items of the given sizes fit into whole columns of columnSize bytes,
// cols columns in all.
func fits(sizes []uint64, cols, columnSize uint64) bool {
	var used uint64
	for _, s := range sizes {
		used += ceilDiv(s, columnSize)
		if used > cols {
			return false
		}
	}
	return true
}

func ceilDiv(a, b uint64) uint64 { return (a + b - 1) / b }
