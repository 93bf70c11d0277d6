package quilt

import (
	"encoding/binary"
	"fmt"

	"github.com/floelabs/floe/internal/bcs"
)

// The decoders below read quilt bytes that anyone may have written: every length is checked
// before it is used, and no allocation exceeds the bytes given.

// checkColumns checks that there is at least one column and that every column has the
// layout's column size.
func checkColumns(l Layout, columns [][]byte) error {
	if l.SymbolSize <= 0 || l.Rows <= 0 {
		return fmt.Errorf("%w: empty layout", ErrColumns)
	}
	if len(columns) == 0 {
		return fmt.Errorf("%w: no columns", ErrColumns)
	}
	for i, c := range columns {
		if len(c) != l.ColumnSize() {
			return fmt.Errorf("%w: column %d has %d bytes, want %d", ErrColumns, i, len(c), l.ColumnSize())
		}
	}
	return nil
}

// readStream copies n bytes at offset off of the stream that runs down columns in order.
// The caller has checked that off+n fits.
func readStream(columns [][]byte, columnSize, off, n int) []byte {
	out := make([]byte, 0, n)
	for n > 0 {
		c, o := off/columnSize, off%columnSize
		k := min(n, columnSize-o)
		out = append(out, columns[c][o:o+k]...)
		off += k
		n -= k
	}
	return out
}

// indexSize reads the index's prefix from column 0 and returns the index's total size
// (prefix included), checking the version and that it fits in MaxIndexColumns columns.
func indexSize(l Layout, column0 []byte) (int, error) {
	if len(column0) != l.ColumnSize() || len(column0) < IndexPrefixSize {
		return 0, fmt.Errorf("%w: column 0 has %d bytes, want %d (at least %d)", ErrColumns, len(column0), l.ColumnSize(), IndexPrefixSize)
	}
	if column0[0] != Version {
		return 0, fmt.Errorf("%w: quilt version %d", ErrUnsupportedVersion, column0[0])
	}
	n := uint64(binary.LittleEndian.Uint32(column0[1:]))
	limit := uint64(l.ColumnSize())*MaxIndexColumns - IndexPrefixSize
	if n > limit {
		return 0, fmt.Errorf("%w: the index claims %d bytes, at most %d fit in %d columns", ErrMalformed, n, limit, MaxIndexColumns)
	}
	return IndexPrefixSize + int(n), nil
}

// IndexColumns returns how many columns the index occupies, from the bytes of column 0
// (secondary sliver 0). A reader fetches column 0, then columns 1 .. IndexColumns-1, then
// calls DecodeIndex.
func IndexColumns(l Layout, column0 []byte) (int, error) {
	size, err := indexSize(l, column0)
	if err != nil {
		return 0, err
	}
	k := l.columnsFor(size)
	if k > l.Columns {
		return 0, fmt.Errorf("%w: the index claims %d columns of %d", ErrMalformed, k, l.Columns)
	}
	return k, nil
}

// DecodeIndex decodes the index from the bytes of the first columns (secondary slivers
// 0, 1, ... in order; at least IndexColumns of them, extra columns are ignored). It checks what
// Walrus checks (version, size, canonical BCS with nothing left over) and also that every
// identifier is valid and that the patches occupy increasing, non-empty column ranges inside
// the matrix, so that a reader can trust the ranges it fetches.
func DecodeIndex(l Layout, columns [][]byte) (*Index, error) {
	if err := checkColumns(l, columns); err != nil {
		return nil, err
	}
	size, err := indexSize(l, columns[0])
	if err != nil {
		return nil, err
	}
	k := l.columnsFor(size)
	if k > l.Columns {
		return nil, fmt.Errorf("%w: the index claims %d columns of %d", ErrMalformed, k, l.Columns)
	}
	if len(columns) < k {
		return nil, fmt.Errorf("%w: the index occupies %d columns, %d given", ErrColumns, k, len(columns))
	}
	body := readStream(columns, l.ColumnSize(), IndexPrefixSize, size-IndexPrefixSize)
	d := bcs.NewDecoder(body)
	// A QuiltPatchV1 takes at least 4 bytes: u16, an empty string, an empty map.
	n := d.SeqLen(4)
	ix := &Index{Columns: k}
	if d.Err() == nil {
		ix.Patches = make([]IndexEntry, 0, n)
	}
	start := k
	for i := 0; i < n && d.Err() == nil; i++ {
		end := int(d.U16())
		id := decodeString(d)
		tags := decodeTags(d)
		if d.Err() != nil {
			break
		}
		if err := ValidateIdentifier(id); err != nil {
			return nil, fmt.Errorf("%w: patch %d: %w", ErrMalformed, i, err)
		}
		if end <= start || end > l.Columns {
			return nil, fmt.Errorf("%w: patch %d (%.60q) occupies columns [%d, %d) of %d", ErrMalformed, i, id, start, end, l.Columns)
		}
		ix.Patches = append(ix.Patches, IndexEntry{Identifier: id, Tags: tags, Start: start, End: end})
		start = end
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: index: %w", ErrMalformed, err)
	}
	return ix, nil
}

// DecodePatch decodes the patch stored in columns: the secondary slivers [Start, End) of its
// index entry or internal ID, in order. The patch's header, identifier and tags must be valid
// and its length must fit in the columns. The identifier returned is the one in the patch's
// header; a reader that came from the index may check that it is the one it asked for.
func DecodePatch(l Layout, columns [][]byte) (*Patch, error) {
	if err := checkColumns(l, columns); err != nil {
		return nil, err
	}
	avail := len(columns) * l.ColumnSize()
	if avail < PatchHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes cannot hold a patch header", ErrMalformed, avail)
	}
	hdr := readStream(columns, l.ColumnSize(), 0, PatchHeaderSize)
	if hdr[0] != Version {
		return nil, fmt.Errorf("%w: patch version %d", ErrUnsupportedVersion, hdr[0])
	}
	length := uint64(binary.LittleEndian.Uint32(hdr[1:]))
	mask := hdr[5]
	if length > uint64(avail-PatchHeaderSize) {
		return nil, fmt.Errorf("%w: the patch claims %d bytes, its %d columns hold %d", ErrMalformed, length, len(columns), avail-PatchHeaderSize)
	}
	body := readStream(columns, l.ColumnSize(), PatchHeaderSize, int(length))
	// field returns a u16le-prefixed field of body from off, and the offset after it.
	field := func(off int, what string) ([]byte, int, error) {
		if len(body)-off < 2 {
			return nil, 0, fmt.Errorf("%w: the patch ends before its %s length", ErrMalformed, what)
		}
		n := int(binary.LittleEndian.Uint16(body[off:]))
		off += 2
		if len(body)-off < n {
			return nil, 0, fmt.Errorf("%w: the patch's %s claims %d bytes, %d left", ErrMalformed, what, n, len(body)-off)
		}
		return body[off : off+n], off + n, nil
	}
	idBytes, off, err := field(0, "identifier")
	if err != nil {
		return nil, err
	}
	d := bcs.NewDecoder(idBytes)
	id := decodeString(d)
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: patch identifier: %w", ErrMalformed, err)
	}
	if err := ValidateIdentifier(id); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	p := &Patch{Identifier: id}
	if mask&tagsFlag != 0 {
		var tagBytes []byte
		if tagBytes, off, err = field(off, "tags"); err != nil {
			return nil, err
		}
		d := bcs.NewDecoder(tagBytes)
		p.Tags = decodeTags(d)
		if err := d.Finish(); err != nil {
			return nil, fmt.Errorf("%w: tags of %.60q: %w", ErrMalformed, id, err)
		}
	}
	p.Data = body[off:len(body):len(body)]
	return p, nil
}

// Decode opens a whole quilt blob for n shards (as read from the network, of the length in its
// metadata) and decodes its index.
func Decode(nShards int, data []byte) (*Quilt, error) {
	l, err := LayoutForBlob(nShards, uint64(len(data)))
	if err != nil {
		return nil, err
	}
	q := &Quilt{Layout: l, Data: data}
	column0 := q.Column(0)
	k, err := IndexColumns(l, column0)
	if err != nil {
		return nil, err
	}
	if q.Index, err = DecodeIndex(l, append([][]byte{column0}, q.Columns(1, k)...)); err != nil {
		return nil, err
	}
	return q, nil
}

// Patch decodes the patch of entry e from the quilt's bytes.
func (q *Quilt) Patch(e IndexEntry) (*Patch, error) {
	if e.Start < 0 || e.End <= e.Start || e.End > q.Layout.Columns {
		return nil, fmt.Errorf("%w: columns [%d, %d) of %d", ErrColumns, e.Start, e.End, q.Layout.Columns)
	}
	return DecodePatch(q.Layout, q.Columns(e.Start, e.End))
}

// PatchByIdentifier decodes the first patch with the given identifier.
func (q *Quilt) PatchByIdentifier(identifier string) (*Patch, error) {
	e, ok := q.Index.Lookup(identifier)
	if !ok {
		return nil, fmt.Errorf("%w: no patch %q", ErrNotFound, identifier)
	}
	return q.Patch(e)
}
