package quilt

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/bcs"
	"github.com/floelabs/floe/redstuff"
)

// Patch is one file of a quilt: its identifier, optional tags, and contents.
type Patch struct {
	Identifier string
	// Tags are optional key-value pairs (an empty map is the same as none).
	Tags map[string]string
	Data []byte
}

// Quilt is a quilt blob with its layout and index.
type Quilt struct {
	Layout Layout
	Index  *Index
	// Data is the quilt blob to store: the whole matrix, Layout.BlobLength() bytes, row by row.
	Data []byte
}

// prepared is a patch with its header and extension bytes, ready to be written.
type prepared struct {
	p      *Patch
	prefix []byte // header || u16le || BCS(identifier) [|| u16le || BCS(tags)]
}

// size returns the patch's stored size: prefix and data.
func (q prepared) size() uint64 { return uint64(len(q.prefix)) + uint64(len(q.p.Data)) }

// Encode builds the quilt of patches for n shards, byte for byte as Walrus does: patches in
// byte-wise order of their identifiers (duplicates refused), the index in the first columns,
// each patch in whole columns of its own, the smallest even symbol size that fits, and the
// whole matrix as the blob. patches is not modified. At most K_s-1 patches fit (666 for
// n = 1000); zero patches give a quilt with an empty index.
//
// The quilt blob is allocated whole (a little more than the patches' total size, more when a
// few large patches leave columns half empty): callers bound their input, as the publisher's
// maximum quilt body size does.
func Encode(nShards int, patches []Patch) (*Quilt, error) {
	params, err := redstuff.NewParams(nShards)
	if err != nil {
		return nil, err
	}
	if len(patches) > params.SecondarySource-1 {
		return nil, fmt.Errorf("%w: %d patches, at most %d fit for %d shards", ErrTooManyPatches, len(patches), params.SecondarySource-1, nShards)
	}
	sorted := make([]*Patch, len(patches))
	for i := range patches {
		sorted[i] = &patches[i]
	}
	slices.SortFunc(sorted, func(a, b *Patch) int { return strings.Compare(a.Identifier, b.Identifier) })
	items := make([]prepared, len(sorted))
	ix := &Index{Patches: make([]IndexEntry, len(sorted))}
	for i, p := range sorted {
		if err := ValidateIdentifier(p.Identifier); err != nil {
			return nil, err
		}
		if i > 0 && p.Identifier == sorted[i-1].Identifier {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateIdentifier, p.Identifier)
		}
		prefix, err := patchPrefix(p)
		if err != nil {
			return nil, err
		}
		items[i] = prepared{p: p, prefix: prefix}
		var tags map[string]string
		if len(p.Tags) > 0 {
			tags = p.Tags
		}
		ix.Patches[i] = IndexEntry{Identifier: p.Identifier, Tags: tags}
	}
	// The index's size does not depend on the column numbers (u16 each), so it is known now.
	indexBody, err := ix.appendBCS(nil)
	if err != nil {
		return nil, err
	}
	if uint64(len(indexBody)) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: the index takes %d bytes", ErrTooLarge, len(indexBody))
	}
	sizes := make([]uint64, 0, 1+len(items))
	sizes = append(sizes, uint64(IndexPrefixSize+len(indexBody)))
	for _, it := range items {
		sizes = append(sizes, it.size())
	}
	s, err := symbolSize(sizes, params.SecondarySource, params.PrimarySource, MaxIndexColumns)
	if err != nil {
		return nil, err
	}
	l := Layout{NShards: nShards, Rows: params.PrimarySource, Columns: params.SecondarySource, SymbolSize: s}
	data := make([]byte, l.BlobLength())
	ix.Columns = l.columnsFor(int(sizes[0]))
	col := ix.Columns
	for i, it := range items {
		w := newColumnWriter(l, data, col)
		w.write(it.prefix)
		w.write(it.p.Data)
		ix.Patches[i].Start = col
		col += l.columnsFor(int(it.size()))
		ix.Patches[i].End = col
	}
	index, err := ix.Bytes()
	if err != nil {
		return nil, err
	}
	newColumnWriter(l, data, 0).write(index)
	return &Quilt{Layout: l, Index: ix, Data: data}, nil
}

// patchPrefix returns a patch's header and extensions: 0x01 || u32le length || mask, then
// u16le || BCS(identifier), then, if it has tags, u16le || BCS(tags). length counts everything
// after the header, data included.
func patchPrefix(p *Patch) ([]byte, error) {
	idSize := bcs.ULEB128Size(uint64(len(p.Identifier))) + len(p.Identifier)
	if idSize >= math.MaxUint16 {
		return nil, fmt.Errorf("%w: identifier of %d bytes (%d with its length prefix; the limit is %d)", ErrInvalidIdentifier, len(p.Identifier), idSize, math.MaxUint16-1)
	}
	b := make([]byte, PatchHeaderSize, PatchHeaderSize+2+idSize)
	b[0] = Version
	b = binary.LittleEndian.AppendUint16(b, uint16(idSize))
	b = bcs.AppendULEB128(b, uint64(len(p.Identifier)))
	b = append(b, p.Identifier...)
	if len(p.Tags) > 0 {
		b[5] |= tagsFlag
		at := len(b)
		b = append(b, 0, 0)
		var err error
		if b, err = appendTags(b, p.Tags); err != nil {
			return nil, err
		}
		n := len(b) - at - 2
		if n > math.MaxUint16 {
			return nil, fmt.Errorf("%w: the tags of %q take %d bytes, the limit is %d", ErrTooLarge, p.Identifier, n, math.MaxUint16)
		}
		binary.LittleEndian.PutUint16(b[at:], uint16(n))
	}
	length := uint64(len(b)-PatchHeaderSize) + uint64(len(p.Data))
	if length > math.MaxUint32 {
		return nil, fmt.Errorf("%w: patch %q takes %d bytes, the limit is %d", ErrTooLarge, p.Identifier, length, uint64(math.MaxUint32))
	}
	binary.LittleEndian.PutUint32(b[1:], uint32(length))
	return b, nil
}

// columnWriter writes a byte stream down the columns of a row-major matrix, from the top of a
// start column: symbol k of the stream goes to row k mod Rows of column start + k div Rows.
type columnWriter struct {
	data               []byte
	s, rows, rowSize   int
	col, row, offInSym int
}

func newColumnWriter(l Layout, data []byte, startCol int) *columnWriter {
	return &columnWriter{data: data, s: l.SymbolSize, rows: l.Rows, rowSize: l.RowSize(), col: startCol}
}

func (w *columnWriter) write(b []byte) {
	for len(b) > 0 {
		at := w.row*w.rowSize + w.col*w.s + w.offInSym
		n := copy(w.data[at:at+w.s-w.offInSym], b)
		b = b[n:]
		w.offInSym += n
		if w.offInSym == w.s {
			w.offInSym = 0
			if w.row++; w.row == w.rows {
				w.row = 0
				w.col++
			}
		}
	}
}

// Column returns a copy of column c (secondary sliver c's bytes), c < Layout.Columns.
func (q *Quilt) Column(c int) []byte {
	l := q.Layout
	out := make([]byte, 0, l.ColumnSize())
	for r := 0; r < l.Rows; r++ {
		at := r*l.RowSize() + c*l.SymbolSize
		out = append(out, q.Data[at:at+l.SymbolSize]...)
	}
	return out
}

// Columns returns copies of columns [start, end).
func (q *Quilt) Columns(start, end int) [][]byte {
	out := make([][]byte, 0, max(end-start, 0))
	for c := start; c < end; c++ {
		out = append(out, q.Column(c))
	}
	return out
}

// Metadata computes the quilt blob's metadata with enc, whose number of shards must be the
// quilt's. Its ID is the quilt ID that the patch IDs (Index.PatchIDs) start with.
func (q *Quilt) Metadata(enc *redstuff.Encoder) (*blob.MetadataWithID, error) {
	if n := enc.Params().NShards; n != q.Layout.NShards {
		return nil, fmt.Errorf("%w: an encoder for %d shards cannot commit to a quilt for %d", redstuff.ErrShardCount, n, q.Layout.NShards)
	}
	c, err := enc.Commit(q.Data)
	if err != nil {
		return nil, err
	}
	return blob.NewMetadata(c), nil
}
