package quilt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/bcs"
)

// Index is a quilt's index: which columns each patch occupies, with its identifier and tags.
// It is stored at the start of column 0 and occupies columns [0, Columns).
type Index struct {
	// Columns is how many columns the index occupies; the first patch starts there.
	Columns int
	// Patches in the quilt's order, which is byte-wise order of the identifiers for every
	// quilt Walrus or Floe builds.
	Patches []IndexEntry
}

// IndexEntry is one patch of the index.
type IndexEntry struct {
	Identifier string
	// Tags are the patch's tags; nil when it has none.
	Tags map[string]string
	// Start and End are the patch's columns [Start, End), i.e. its secondary slivers.
	Start, End int
}

// InternalID returns the entry's internal patch ID.
func (e IndexEntry) InternalID() InternalID {
	return InternalID{Start: uint16(e.Start), End: uint16(e.End)}
}

// SliverIndices returns the secondary sliver indices (columns) the patch occupies: the only
// slivers a reader needs to fetch to read it.
func (e IndexEntry) SliverIndices() []int { return span(e.Start, e.End) }

// SliverIndices returns the secondary sliver indices (columns) the index occupies.
func (ix *Index) SliverIndices() []int { return span(0, ix.Columns) }

func span(start, end int) []int {
	out := make([]int, 0, max(end-start, 0))
	for c := start; c < end; c++ {
		out = append(out, c)
	}
	return out
}

// Lookup returns the first patch with the given identifier.
func (ix *Index) Lookup(identifier string) (IndexEntry, bool) {
	for _, e := range ix.Patches {
		if e.Identifier == identifier {
			return e, true
		}
	}
	return IndexEntry{}, false
}

// LookupID returns the patch with the given internal ID.
func (ix *Index) LookupID(id InternalID) (IndexEntry, bool) {
	for _, e := range ix.Patches {
		if e.Start == int(id.Start) && e.End == int(id.End) {
			return e, true
		}
	}
	return IndexEntry{}, false
}

// ByTag returns the patches whose tag key has the given value, in the quilt's order.
func (ix *Index) ByTag(key, value string) []IndexEntry {
	var out []IndexEntry
	for _, e := range ix.Patches {
		if v, ok := e.Tags[key]; ok && v == value {
			out = append(out, e)
		}
	}
	return out
}

// PatchIDs returns the QuiltPatchId of every patch, in the index's order, for the quilt whose
// blob ID is quilt.
func (ix *Index) PatchIDs(quilt blob.ID) []PatchID {
	out := make([]PatchID, len(ix.Patches))
	for i, e := range ix.Patches {
		out[i] = PatchID{Quilt: quilt, Patch: e.InternalID()}
	}
	return out
}

// Bytes returns the index as stored at the start of column 0: the version byte, the u32le
// length of the BCS encoding, and the BCS encoding of QuiltIndexV1 (the patches' end columns,
// identifiers and tags; start columns are implied).
func (ix *Index) Bytes() ([]byte, error) {
	body, err := ix.appendBCS(nil)
	if err != nil {
		return nil, err
	}
	out := make([]byte, IndexPrefixSize, IndexPrefixSize+len(body))
	out[0] = Version
	binary.LittleEndian.PutUint32(out[1:], uint32(len(body)))
	return append(out, body...), nil
}

// appendBCS appends BCS(QuiltIndexV1 { patches: vector<QuiltPatchV1 { end_index: u16,
// identifier: String, tags: map<String, String> }> }).
func (ix *Index) appendBCS(dst []byte) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	e.Len(len(ix.Patches))
	for _, p := range ix.Patches {
		if p.End < 0 || p.End > 0xffff {
			return nil, fmt.Errorf("%w: end column %d of %q", ErrTooLarge, p.End, p.Identifier)
		}
		e.U16(uint16(p.End))
		e.ByteVec([]byte(p.Identifier))
		b, err := appendTags(e.Bytes(), p.Tags)
		if err != nil {
			return nil, err
		}
		e = bcs.NewEncoder(b)
	}
	return e.Result()
}

// appendTags appends the BCS encoding of a map<String, String>: the entries sorted by their
// serialized keys (the ULEB128 length prefix first, so "b" sorts before "ab"), as Rust's bcs
// crate and Walrus's TypeScript SDK do.
func appendTags(dst []byte, tags map[string]string) ([]byte, error) {
	type entry struct {
		serialized []byte // ULEB128(len(key)) || key
		key        string
	}
	entries := make([]entry, 0, len(tags))
	for k, v := range tags {
		if uint64(len(k)) > bcs.MaxSequenceLength || uint64(len(v)) > bcs.MaxSequenceLength {
			return nil, fmt.Errorf("%w: tag %.40q", ErrTooLarge, k)
		}
		sk := bcs.AppendULEB128(make([]byte, 0, bcs.MaxULEB128Len+len(k)), uint64(len(k)))
		entries = append(entries, entry{append(sk, k...), k})
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.serialized, b.serialized) })
	dst = bcs.AppendULEB128(dst, uint64(len(entries)))
	for _, e := range entries {
		v := tags[e.key]
		dst = append(dst, e.serialized...)
		dst = bcs.AppendULEB128(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst, nil
}

// decodeString reads a BCS String: valid UTF-8, as Rust's bcs requires.
func decodeString(d *bcs.Decoder) string {
	b := d.ByteVec()
	if d.Err() == nil && !utf8.Valid(b) {
		d.Fail(fmt.Errorf("%w: a string is not valid UTF-8", ErrMalformed))
	}
	return string(b)
}

// decodeTags reads a BCS map<String, String>, whose keys must be in strictly increasing order
// of their serialized bytes (Rust's bcs rejects any other order as non-canonical). It returns
// nil for an empty map.
func decodeTags(d *bcs.Decoder) map[string]string {
	n := d.SeqLen(2)
	if n == 0 || d.Err() != nil {
		return nil
	}
	tags := make(map[string]string, n)
	var prev []byte
	for i := 0; i < n && d.Err() == nil; i++ {
		start := d.Offset()
		k := decodeString(d)
		if d.Err() != nil {
			break
		}
		// The serialized key is what was just consumed: its length prefix and bytes.
		sk := bcs.AppendULEB128(nil, uint64(len(k)))
		sk = append(sk, k...)
		if d.Offset()-start != len(sk) || (prev != nil && bytes.Compare(prev, sk) >= 0) {
			d.Fail(fmt.Errorf("%w: tag keys are not in canonical BCS order", ErrMalformed))
			break
		}
		prev = sk
		tags[k] = decodeString(d)
	}
	return tags
}
