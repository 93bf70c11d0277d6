package quilt_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/floelabs/floe/quilt"
)

// columnsOf cuts b into k columns of the layout's size, zero-padded.
func columnsOf(l quilt.Layout, b []byte, k int) [][]byte {
	cs := l.ColumnSize()
	cols := make([][]byte, k)
	for i := range cols {
		cols[i] = make([]byte, cs)
		if i*cs < len(b) {
			copy(cols[i], b[i*cs:])
		}
	}
	return cols
}

// fuzzLayout picks a small layout from a fuzz byte.
func fuzzLayout(t *testing.T, sel uint8) quilt.Layout {
	n := []int{4, 7, 10, 13}[sel%4]
	l, err := quilt.NewLayout(n, 2+2*int(sel/4%16))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// FuzzDecodeIndex feeds arbitrary column bytes to the index decoder. Whatever it accepts must
// encode back to exactly the bytes it read (the encoding is canonical).
func FuzzDecodeIndex(f *testing.F) {
	q := smallQuilt(f)
	idx, _ := q.Index.Bytes()
	f.Add(uint8(0), idx)
	f.Add(uint8(9), []byte{1, 1, 0, 0, 0, 0})
	f.Add(uint8(37), []byte{1, 11, 0, 0, 0, 1, 2, 0, 1, 'a', 1, 1, 'k', 1, 'v'})
	f.Add(uint8(5), []byte{1, 255, 255, 255, 255})
	f.Add(uint8(2), []byte{2, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, sel uint8, b []byte) {
		l := fuzzLayout(t, sel)
		cols := columnsOf(l, b, quilt.MaxIndexColumns)
		k, err := quilt.IndexColumns(l, cols[0])
		if err != nil {
			return
		}
		ix, err := quilt.DecodeIndex(l, cols)
		if err != nil {
			return
		}
		if ix.Columns != k {
			t.Fatalf("IndexColumns %d, DecodeIndex %d", k, ix.Columns)
		}
		again, err := ix.Bytes()
		if err != nil {
			t.Fatalf("a decoded index does not encode: %v", err)
		}
		stream := bytes.Join(cols, nil)
		if !bytes.Equal(again, stream[:len(again)]) {
			t.Fatalf("re-encoded index differs:\n %x\n %x", again, stream[:len(again)])
		}
		prev := k
		for _, e := range ix.Patches {
			if e.Start != prev || e.End <= e.Start || e.End > l.Columns || quilt.ValidateIdentifier(e.Identifier) != nil {
				t.Fatalf("accepted entry %+v", e)
			}
			prev = e.End
		}
	})
}

// FuzzDecodePatch feeds arbitrary column bytes to the patch decoder. What it accepts must fit
// in the columns and survive a round trip through Encode.
func FuzzDecodePatch(f *testing.F) {
	q := smallQuilt(f)
	for _, e := range q.Index.Patches {
		f.Add(uint8(0), uint8(e.End-e.Start), bytes.Join(q.Columns(e.Start, e.End), nil))
	}
	f.Add(uint8(1), uint8(1), []byte{1, 9, 0, 0, 0, 0, 2, 0, 1, 'x', 'h', 'i'})
	f.Add(uint8(1), uint8(1), []byte{1, 14, 0, 0, 0, 1, 2, 0, 1, 'x', 4, 0, 1, 0, 0, 'd'})
	f.Fuzz(func(t *testing.T, sel, ncols uint8, b []byte) {
		l := fuzzLayout(t, sel)
		k := 1 + int(ncols%4)
		p, err := quilt.DecodePatch(l, columnsOf(l, b, k))
		if err != nil {
			return
		}
		if len(p.Data) > k*l.ColumnSize() {
			t.Fatalf("%d bytes of data from %d columns of %d", len(p.Data), k, l.ColumnSize())
		}
		q, err := quilt.Encode(10, []quilt.Patch{*p})
		if err != nil {
			return // a large patch may not fit at n = 10
		}
		back, err := q.PatchByIdentifier(p.Identifier)
		if err != nil || !bytes.Equal(back.Data, p.Data) || !tagsEqual(back.Tags, p.Tags) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzParsePatchID: whatever parses prints back to the same text.
func FuzzParsePatchID(f *testing.F) {
	f.Add("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kYBAQADAA")
	f.Add("SbPSYFuwDaYhN8GDUIeqNdgkN-VC-h4wLNp-6lu07hsBAQADAA")
	f.Add("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY")
	f.Add(strings.Repeat("A", 50))
	f.Fuzz(func(t *testing.T, s string) {
		p, err := quilt.ParsePatchID(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("%q parses to %v, printed %q", s, p, p.String())
		}
		if p.Patch.Start >= p.Patch.End {
			t.Fatalf("accepted empty range %v", p.Patch)
		}
	})
}

// FuzzEncodeDecode: any quilt Encode builds decodes back to its patches.
func FuzzEncodeDecode(f *testing.F) {
	f.Add("a|b|c", []byte("hello world"), uint8(0))
	f.Add("日本語|📄 x|_y", []byte{}, uint8(3))
	f.Add("one", bytes.Repeat([]byte{7}, 500), uint8(1))
	f.Fuzz(func(t *testing.T, ids string, data []byte, sel uint8) {
		n := []int{4, 10, 13, 100}[sel%4]
		var patches []quilt.Patch
		for i, id := range strings.Split(ids, "|") {
			p := quilt.Patch{Identifier: id, Data: data[min(i, len(data)):]}
			if i%2 == 1 {
				p.Tags = map[string]string{"i": id, id: "x"}
			}
			patches = append(patches, p)
		}
		q, err := quilt.Encode(n, patches)
		if err != nil {
			return
		}
		d, err := quilt.Decode(n, q.Data)
		if err != nil {
			t.Fatalf("Decode of an encoded quilt: %v", err)
		}
		if len(d.Index.Patches) != len(patches) {
			t.Fatalf("%d patches, want %d", len(d.Index.Patches), len(patches))
		}
		for _, in := range patches {
			out, err := d.PatchByIdentifier(in.Identifier)
			if err != nil || !bytes.Equal(out.Data, in.Data) || !tagsEqual(out.Tags, in.Tags) {
				t.Fatalf("patch %q: %v", in.Identifier, err)
			}
		}
	})
}
