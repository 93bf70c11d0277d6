package blob

import (
	"fmt"
	"slices"

	"github.com/floelabs/floe/internal/bcs"
)

// DecodingSymbols is a storage node's answer to GET .../decodingSymbols: for each target
// sliver index, the symbols (without proofs) the node gives towards rebuilding it. Its BCS
// form is Walrus's map<u16, vector<EitherDecodingSymbol>>.
type DecodingSymbols map[int][]EitherDecodingSymbol

// bcsKeyLess orders u16 map keys as BCS does: by their serialized (little-endian) bytes.
func bcsKeyLess(a, b int) int {
	if c := (a & 0xff) - (b & 0xff); c != 0 {
		return c
	}
	return (a >> 8) - (b >> 8)
}

// MarshalBCS returns the canonical BCS form of m: entries sorted by their serialized keys.
func (m DecodingSymbols) MarshalBCS() ([]byte, error) {
	keys := make([]int, 0, len(m))
	size := bcs.ULEB128Size(uint64(len(m)))
	for k, syms := range m {
		keys = append(keys, k)
		size += 2 + bcs.ULEB128Size(uint64(len(syms)))
		for _, s := range syms {
			size += 1 + s.Symbol.size()
		}
	}
	slices.SortFunc(keys, bcsKeyLess)
	e := bcs.NewEncoder(make([]byte, 0, size))
	e.Len(len(keys))
	for _, k := range keys {
		encodeU16(e, "target sliver index", k)
		e.Len(len(m[k]))
		for _, s := range m[k] {
			s.encode(e)
		}
	}
	return e.Result()
}

// minEitherDecodingSymbolSize is a variant byte, a u16 index and an empty byte vector.
const minEitherDecodingSymbolSize = 1 + 2 + 1

// UnmarshalBCS decodes a BCS map<u16, vector<EitherDecodingSymbol>> into m, which it
// replaces; keys must be in canonical order and distinct. Data slices alias b. On error m is
// unchanged.
func (m *DecodingSymbols) UnmarshalBCS(b []byte) error {
	d := bcs.NewDecoder(b)
	n := d.SeqLen(2 + 1)
	out := make(DecodingSymbols, n)
	prev := -1
	for range n {
		k := d.IntU16()
		if d.Err() != nil {
			break
		}
		if prev >= 0 && bcsKeyLess(prev, k) >= 0 {
			d.Fail(fmt.Errorf("map key %d after %d: not in canonical order", k, prev))
			break
		}
		prev = k
		c := d.SeqLen(minEitherDecodingSymbolSize)
		syms := make([]EitherDecodingSymbol, c)
		for i := range syms {
			syms[i].decode(d)
		}
		out[k] = syms
	}
	if err := d.Finish(); err != nil {
		return malformed("map<u16, vector<EitherDecodingSymbol>>", err)
	}
	*m = out
	return nil
}
