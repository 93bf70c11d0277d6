package quilt_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/quilt"
)

// TestValidateIdentifier uses the examples of Walrus's validate_quilt_identifier.
func TestValidateIdentifier(t *testing.T) {
	valid := []string{"test", "test123", "123test", "a", "A123", "_test", "-test", ".test", "test blob",
		"test-blob", "test_blob", "test.blob", " leading", "日本語", "📄 notes.md", "a/b/c.html",
		strings.Repeat("x", quilt.MaxIdentifierLen)}
	for _, id := range valid {
		if err := quilt.ValidateIdentifier(id); err != nil {
			t.Errorf("%.40q: %v", id, err)
		}
	}
	invalid := []string{"", "test ", "test\t", "test\n", "test\r", "test   ", "test\u00a0", "test\u3000",
		"te\x08st", "\x1btest", "test\x00", "test\x01", "test\x1f", "test\x7f", "test\u0080", "test\u0081",
		"test\u009f", "bad\xffutf8", strings.Repeat("x", quilt.MaxIdentifierLen+1)}
	for _, id := range invalid {
		if err := quilt.ValidateIdentifier(id); !errors.Is(err, quilt.ErrInvalidIdentifier) {
			t.Errorf("%.40q: %v, want ErrInvalidIdentifier", id, err)
		}
	}
}

// TestSortIsByteWise: Walrus's Rust encoder sorts identifiers by their UTF-8 bytes. (Its
// TypeScript SDK compares UTF-16 code units and would put the emoji first; the vectors avoid
// such pairs, and Floe follows the Rust reference.)
func TestSortIsByteWise(t *testing.T) {
	q, err := quilt.Encode(10, []quilt.Patch{{Identifier: "😀"}, {Identifier: "\uff21"}, {Identifier: "Z"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range q.Index.Patches {
		got = append(got, e.Identifier)
	}
	if want := []string{"Z", "\uff21", "😀"}; !slices.Equal(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func TestEncodeLeavesInputAlone(t *testing.T) {
	in := []quilt.Patch{{Identifier: "b", Data: []byte("2")}, {Identifier: "a", Data: []byte("1")}}
	if _, err := quilt.Encode(10, in); err != nil {
		t.Fatal(err)
	}
	if in[0].Identifier != "b" || in[1].Identifier != "a" {
		t.Fatal("Encode reordered its input")
	}
}

func TestEncodeRefuses(t *testing.T) {
	bigTags := map[string]string{"k": strings.Repeat("v", 70000)}
	cases := []struct {
		name    string
		n       int
		patches []quilt.Patch
		err     error
	}{
		{"invalid identifier", 10, []quilt.Patch{{Identifier: "trailing "}}, quilt.ErrInvalidIdentifier},
		{"empty identifier", 10, []quilt.Patch{{Identifier: ""}}, quilt.ErrInvalidIdentifier},
		// 65532 bytes + a 3-byte length prefix = 65535, which Walrus refuses.
		{"identifier too long", 10, []quilt.Patch{{Identifier: strings.Repeat("x", 65532)}}, quilt.ErrInvalidIdentifier},
		{"duplicate", 10, []quilt.Patch{{Identifier: "a"}, {Identifier: "b"}, {Identifier: "a"}}, quilt.ErrDuplicateIdentifier},
		{"too many", 10, make7(), quilt.ErrTooManyPatches},
		{"tags too large", 10, []quilt.Patch{{Identifier: "a", Tags: bigTags}}, quilt.ErrTooLarge},
		{"too large", 10, []quilt.Patch{{Identifier: "a", Data: make([]byte, 2_000_000)}}, quilt.ErrTooLarge},
		{"bad n", 3, nil, nil},
	}
	for _, c := range cases {
		_, err := quilt.Encode(c.n, c.patches)
		if err == nil || (c.err != nil && !errors.Is(err, c.err)) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
	// The longest identifier Walrus accepts.
	if _, err := quilt.Encode(10, []quilt.Patch{{Identifier: strings.Repeat("x", 65531)}}); err != nil {
		t.Errorf("65531-byte identifier: %v", err)
	}
}

func make7() []quilt.Patch {
	var p []quilt.Patch
	for i := 0; i < 7; i++ {
		p = append(p, quilt.Patch{Identifier: string(rune('a' + i))})
	}
	return p
}

// TestEmptyTagsAreNoTags: an empty tag map is stored like no tags (no tags section).
func TestEmptyTagsAreNoTags(t *testing.T) {
	a, err := quilt.Encode(10, []quilt.Patch{{Identifier: "a", Tags: map[string]string{}, Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := quilt.Encode(10, []quilt.Patch{{Identifier: "a", Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Data, b.Data) || a.Index.Patches[0].Tags != nil {
		t.Fatal("empty tags differ from no tags")
	}
}

func TestPatchID(t *testing.T) {
	id, err := blob.ParseID("RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY")
	if err != nil {
		t.Fatal(err)
	}
	p := quilt.PatchID{Quilt: id, Patch: quilt.InternalID{Start: 3, End: 300}}
	s := p.String()
	if quilt.PatchIDStringLen != 50 || len(s) != 50 {
		t.Fatalf("%q has %d characters", s, len(s))
	}
	back, err := quilt.ParsePatchID(s)
	if err != nil || back != p {
		t.Fatalf("ParsePatchID(%s) = %v, %v", s, back, err)
	}
	b := p.Bytes()
	if !bytes.Equal(b[:32], id[:]) || !bytes.Equal(b[32:], []byte{1, 3, 0, 44, 1}) {
		t.Fatalf("bytes %x", b)
	}
	text, _ := p.MarshalText()
	var u quilt.PatchID
	if err := u.UnmarshalText(text); err != nil || u != p {
		t.Fatalf("UnmarshalText: %v, %v", u, err)
	}
	if got := p.Patch.SliverIndices(); len(got) != 297 || got[0] != 3 || got[296] != 299 {
		t.Fatalf("SliverIndices: %d from %d", len(got), got[0])
	}

	mutate := func(f func(b []byte) []byte) string {
		b := p.Bytes()
		return encode(f(b[:]))
	}
	bad := map[string]string{
		"blob ID only":      id.String(),
		"padded":            s + "==",
		"standard base64":   strings.NewReplacer("-", "+", "_", "/").Replace(s) + "+",
		"newline":           s[:25] + "\n" + s[25:49],
		"trailing bits":     s[:49] + nonCanonicalLast(s[49]),
		"version 2":         mutate(func(b []byte) []byte { b[32] = 2; return b }),
		"empty range":       mutate(func(b []byte) []byte { b[35], b[36] = b[33], b[34]; return b }),
		"6-byte internal":   mutate(func(b []byte) []byte { return append(b, 0) }),
		"not base64 at all": strings.Repeat("*", 50),
	}
	for name, s := range bad {
		if _, err := quilt.ParsePatchID(s); err == nil {
			t.Errorf("%s: %q accepted", name, s)
		}
	}
	if _, err := quilt.ParseInternalID([]byte{1, 5, 0, 4, 0}); !errors.Is(err, quilt.ErrInvalidPatchID) {
		t.Errorf("start > end: %v", err)
	}
	if _, err := quilt.ParseInternalID([]byte{0, 1, 0, 4, 0}); !errors.Is(err, quilt.ErrUnsupportedVersion) {
		t.Errorf("version 0: %v", err)
	}
}

func encode(b []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var sb strings.Builder
	for i := 0; i < len(b); i += 3 {
		var v uint32
		n := min(3, len(b)-i)
		for j := 0; j < 3; j++ {
			v <<= 8
			if j < n {
				v |= uint32(b[i+j])
			}
		}
		for j := 0; j <= n; j++ {
			sb.WriteByte(alphabet[(v>>(18-6*j))&63])
		}
	}
	return sb.String()
}

// nonCanonicalLast returns a last character that decodes to the same bytes with a non-zero
// unused bit (37 bytes leave 2 unused bits in the 50th character).
func nonCanonicalLast(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i|1])
}

// smallQuilt is a quilt for n = 10 with tags, a multi-column index and a multi-column patch.
func smallQuilt(t testing.TB) *quilt.Quilt {
	q, err := quilt.Encode(10, []quilt.Patch{
		{Identifier: strings.Repeat("long-identifier-", 12) + "1", Tags: map[string]string{"b": "1", "ab": "2"}, Data: []byte("hello")},
		{Identifier: "big", Data: bytes.Repeat([]byte("0123456789"), 20)},
		{Identifier: "empty"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if q.Index.Columns < 2 || q.Index.Patches[0].End-q.Index.Patches[0].Start < 2 {
		t.Fatalf("smallQuilt lost its shape: %+v", q.Index)
	}
	return q
}

func TestDecodeRefuses(t *testing.T) {
	q := smallQuilt(t)
	l := q.Layout
	idx := q.Columns(0, q.Index.Columns)
	big := q.Index.Patches[0]
	if big.Identifier != "big" {
		t.Fatalf("first patch %q", big.Identifier)
	}
	patchCols := q.Columns(big.Start, big.End)

	clone := func(cols [][]byte) [][]byte {
		out := make([][]byte, len(cols))
		for i := range cols {
			out[i] = slices.Clone(cols[i])
		}
		return out
	}
	// Index failures.
	indexCases := map[string]func([][]byte) [][]byte{
		"version":      func(c [][]byte) [][]byte { c[0][0] = 2; return c },
		"huge length":  func(c [][]byte) [][]byte { binary.LittleEndian.PutUint32(c[0][1:], 1<<31); return c },
		"too few cols": func(c [][]byte) [][]byte { return c[:1] },
		"short column": func(c [][]byte) [][]byte { c[1] = c[1][:3]; return c },
		"no columns":   func(c [][]byte) [][]byte { return nil },
		"trailing byte": func(c [][]byte) [][]byte {
			binary.LittleEndian.PutUint32(c[0][1:], binary.LittleEndian.Uint32(c[0][1:])+1)
			return c
		},
		"short length": func(c [][]byte) [][]byte {
			binary.LittleEndian.PutUint32(c[0][1:], binary.LittleEndian.Uint32(c[0][1:])-1)
			return c
		},
	}
	for name, f := range indexCases {
		if _, err := quilt.DecodeIndex(l, f(clone(idx))); err == nil {
			t.Errorf("index %s: accepted", name)
		}
	}
	// Rewriting the index with bad entries.
	badIndex := func(ix *quilt.Index) [][]byte {
		b, err := ix.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		cols := make([][]byte, quilt.MaxIndexColumns)
		for i := range cols {
			cols[i] = make([]byte, l.ColumnSize())
		}
		for i := 0; i < len(b); i++ {
			cols[i/l.ColumnSize()][i%l.ColumnSize()] = b[i]
		}
		return cols
	}
	entries := map[string][]quilt.IndexEntry{
		"end before start":   {{Identifier: "a", End: 1}},
		"end past matrix":    {{Identifier: "a", End: l.Columns + 1}},
		"not increasing":     {{Identifier: "a", End: 5}, {Identifier: "b", End: 5}},
		"invalid identifier": {{Identifier: "a\x00", End: 5}},
	}
	for name, es := range entries {
		ix := &quilt.Index{Columns: 2, Patches: es}
		if _, err := quilt.DecodeIndex(l, badIndex(ix)); !errors.Is(err, quilt.ErrMalformed) {
			t.Errorf("index %s: %v", name, err)
		}
	}
	// Non-canonical tag order: swap the two entries of a two-tag map by hand.
	{
		ix := &quilt.Index{Columns: 2, Patches: []quilt.IndexEntry{{Identifier: "a", End: 4, Tags: map[string]string{"b": "1", "ab": "2"}}}}
		b, _ := ix.Bytes()
		canon := []byte{2, 1, 'b', 1, '1', 2, 'a', 'b', 1, '2'}
		at := bytes.Index(b, canon)
		if at < 0 {
			t.Fatalf("tags not in canonical order in %x", b)
		}
		copy(b[at:], []byte{2, 2, 'a', 'b', 1, '2', 1, 'b', 1, '1'})
		cols := badIndex(&quilt.Index{})
		for i := range cols {
			clear(cols[i])
		}
		for i := 0; i < len(b); i++ {
			cols[i/l.ColumnSize()][i%l.ColumnSize()] = b[i]
		}
		if _, err := quilt.DecodeIndex(l, cols); !errors.Is(err, quilt.ErrMalformed) {
			t.Errorf("non-canonical tags: %v", err)
		}
	}

	// Patch failures.
	patchCases := map[string]func([][]byte) [][]byte{
		"version":          func(c [][]byte) [][]byte { c[0][0] = 0; return c },
		"length too large": func(c [][]byte) [][]byte { binary.LittleEndian.PutUint32(c[0][1:], 1<<30); return c },
		"fewer columns":    func(c [][]byte) [][]byte { return c[:1] },
		"identifier size":  func(c [][]byte) [][]byte { binary.LittleEndian.PutUint16(c[0][6:], 60000); return c },
		"identifier bcs":   func(c [][]byte) [][]byte { c[0][8] = 9; return c },
		"identifier utf8":  func(c [][]byte) [][]byte { c[0][9] = 0xff; return c },
		"tags flag":        func(c [][]byte) [][]byte { c[0][5] = 1; return c },
		"length too small": func(c [][]byte) [][]byte { binary.LittleEndian.PutUint32(c[0][1:], 3); return c },
		"uneven columns":   func(c [][]byte) [][]byte { c[1] = append(c[1], 0); return c },
	}
	for name, f := range patchCases {
		if _, err := quilt.DecodePatch(l, f(clone(patchCols))); err == nil {
			t.Errorf("patch %s: accepted", name)
		}
	}
	// And the untouched columns decode.
	p, err := quilt.DecodePatch(l, patchCols)
	if err != nil || p.Identifier != "big" || len(p.Data) != 200 {
		t.Fatalf("DecodePatch: %v", err)
	}
	if _, err := q.PatchByIdentifier("missing"); !errors.Is(err, quilt.ErrNotFound) {
		t.Errorf("missing identifier: %v", err)
	}
	if _, err := quilt.Decode(10, q.Data[:len(q.Data)-1]); err == nil {
		t.Error("Decode of a truncated quilt: accepted")
	}
}

func TestIndexLookups(t *testing.T) {
	q := smallQuilt(t)
	e, ok := q.Index.Lookup("empty")
	if !ok || e.End-e.Start != 1 {
		t.Fatalf("Lookup(empty) = %+v, %v", e, ok)
	}
	if got, ok := q.Index.LookupID(e.InternalID()); !ok || got.Identifier != "empty" {
		t.Fatalf("LookupID = %+v, %v", got, ok)
	}
	if got := q.Index.ByTag("ab", "2"); len(got) != 1 || !strings.HasPrefix(got[0].Identifier, "long-") {
		t.Fatalf("ByTag = %+v", got)
	}
	if got := q.Index.ByTag("ab", "3"); len(got) != 0 {
		t.Fatalf("ByTag(wrong value) = %+v", got)
	}
	if got := q.Index.SliverIndices(); len(got) != q.Index.Columns || got[0] != 0 {
		t.Fatalf("index SliverIndices = %v", got)
	}
	if got := e.SliverIndices(); !slices.Equal(got, []int{e.Start}) {
		t.Fatalf("SliverIndices = %v", got)
	}
	p, err := q.Patch(e)
	if err != nil || p.Identifier != "empty" || len(p.Data) != 0 {
		t.Fatalf("Patch(empty) = %+v, %v", p, err)
	}
}
