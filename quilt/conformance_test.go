package quilt_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
)

// vectorFile is made by testdata/gen/gen.mjs with Walrus's own quilt encoder (encodeQuilt of
// @mysten/walrus) and blob encoder (@mysten/walrus-wasm); see testdata/README.md.
const vectorFile = "testdata/walrus-quilt-vectors.jsonl"

type vectorFileSpec struct {
	Identifier string            `json:"identifier"`
	Tags       map[string]string `json:"tags"`
	Seed       uint64            `json:"seed"`
	Len        int               `json:"len"`
}

type vectorPatch struct {
	Identifier string `json:"identifier"`
	Start      int    `json:"start"`
	End        int    `json:"end"`
	PatchID    string `json:"patch_id"`
}

type vector struct {
	Case         string           `json:"case"`
	NShards      int              `json:"n_shards"`
	Files        []vectorFileSpec `json:"files"`
	Error        string           `json:"error"`
	SymbolSize   int              `json:"symbol_size"`
	QuiltLen     int              `json:"quilt_len"`
	QuiltSHA256  string           `json:"quilt_sha256"`
	QuiltBlobID  string           `json:"quilt_blob_id"`
	IndexColumns int              `json:"index_columns"`
	IndexHex     string           `json:"index_hex"`
	Patches      []vectorPatch    `json:"patches"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open(vectorFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var v vector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", vectorFile, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (v vector) patches() []quilt.Patch {
	out := make([]quilt.Patch, len(v.Files))
	for i, f := range v.Files {
		out[i] = quilt.Patch{Identifier: f.Identifier, Tags: f.Tags, Data: genData(f.Seed, f.Len)}
	}
	return out
}

// encoders shares one redstuff.Encoder per n between the tests.
var encoders sync.Map

func encoderFor(t testing.TB, n int) *redstuff.Encoder {
	if e, ok := encoders.Load(n); ok {
		return e.(*redstuff.Encoder)
	}
	e, err := redstuff.New(n)
	if err != nil {
		t.Fatal(err)
	}
	encoders.Store(n, e)
	return e
}

// walrusErrors maps the messages of Walrus's encoder to Floe's errors.
var walrusErrors = []struct {
	substr string
	err    error
}{
	{"Duplicate blob identifier", quilt.ErrDuplicateIdentifier},
	{"Too many blobs", quilt.ErrTooManyPatches},
	{"oversize", quilt.ErrTooLarge},
}

// TestWalrusVectors checks Floe's quilts against Walrus's own encoder, byte for byte: the quilt
// blob, its index, the column ranges, the quilt's blob ID and every patch ID; then decodes
// every patch back from its columns.
func TestWalrusVectors(t *testing.T) {
	vectors := loadVectors(t)
	if len(vectors) < 20 {
		t.Fatalf("only %d vectors in %s", len(vectors), vectorFile)
	}
	for _, v := range vectors {
		t.Run(v.Case, func(t *testing.T) {
			patches := v.patches()
			q, err := quilt.Encode(v.NShards, patches)
			if v.Error != "" {
				if err == nil {
					t.Fatalf("Walrus refuses this input (%s); Floe encoded it", v.Error)
				}
				for _, we := range walrusErrors {
					if strings.Contains(v.Error, we.substr) && !errors.Is(err, we.err) {
						t.Fatalf("Walrus: %s; Floe: %v, want %v", v.Error, err, we.err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkVector(t, v, q)
			checkDecode(t, v, q, patches)
		})
	}
}

func checkVector(t *testing.T, v vector, q *quilt.Quilt) {
	if q.Layout.SymbolSize != v.SymbolSize || len(q.Data) != v.QuiltLen {
		t.Fatalf("symbol size %d, length %d; Walrus: %d, %d", q.Layout.SymbolSize, len(q.Data), v.SymbolSize, v.QuiltLen)
	}
	if sum := sha256.Sum256(q.Data); hex.EncodeToString(sum[:]) != v.QuiltSHA256 {
		t.Fatal("quilt bytes differ from Walrus's")
	}
	index, err := q.Index.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(index) != v.IndexHex {
		t.Fatalf("index bytes differ from Walrus's:\n floe   %x\n walrus %s", index, v.IndexHex)
	}
	if q.Index.Columns != v.IndexColumns || len(q.Index.Patches) != len(v.Patches) {
		t.Fatalf("index: %d columns, %d patches; Walrus: %d, %d", q.Index.Columns, len(q.Index.Patches), v.IndexColumns, len(v.Patches))
	}
	md, err := q.Metadata(encoderFor(t, v.NShards))
	if err != nil {
		t.Fatal(err)
	}
	if md.ID.String() != v.QuiltBlobID {
		t.Fatalf("quilt ID %s, Walrus %s", md.ID, v.QuiltBlobID)
	}
	ids := q.Index.PatchIDs(md.ID)
	for i, want := range v.Patches {
		e := q.Index.Patches[i]
		if e.Identifier != want.Identifier || e.Start != want.Start || e.End != want.End {
			t.Fatalf("patch %d: %q [%d, %d); Walrus %q [%d, %d)", i, e.Identifier, e.Start, e.End, want.Identifier, want.Start, want.End)
		}
		if ids[i].String() != want.PatchID {
			t.Fatalf("patch %q: ID %s, Walrus %s", e.Identifier, ids[i], want.PatchID)
		}
		parsed, err := quilt.ParsePatchID(want.PatchID)
		if err != nil || parsed != ids[i] {
			t.Fatalf("ParsePatchID(%s) = %v, %v", want.PatchID, parsed, err)
		}
	}
}

// checkDecode reads the quilt back as a reader would: the index from its columns, each patch
// from its columns only; and through Decode from the whole blob.
func checkDecode(t *testing.T, v vector, q *quilt.Quilt, patches []quilt.Patch) {
	l, err := quilt.LayoutForBlob(v.NShards, uint64(len(q.Data)))
	if err != nil || l != q.Layout {
		t.Fatalf("LayoutForBlob = %+v, %v; want %+v", l, err, q.Layout)
	}
	k, err := quilt.IndexColumns(l, q.Column(0))
	if err != nil || k != v.IndexColumns {
		t.Fatalf("IndexColumns = %d, %v; want %d", k, err, v.IndexColumns)
	}
	ix, err := quilt.DecodeIndex(l, q.Columns(0, k))
	if err != nil {
		t.Fatal(err)
	}
	if !indexEqual(ix, q.Index) {
		t.Fatal("decoded index differs from the encoded one")
	}
	want := map[string]quilt.Patch{}
	for _, p := range patches {
		want[p.Identifier] = p
	}
	whole, err := quilt.Decode(v.NShards, q.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !indexEqual(whole.Index, q.Index) {
		t.Fatal("Decode's index differs from the encoded one")
	}
	for _, e := range ix.Patches {
		p, err := quilt.DecodePatch(l, q.Columns(e.Start, e.End))
		if err != nil {
			t.Fatalf("patch %q: %v", e.Identifier, err)
		}
		f := want[e.Identifier]
		if p.Identifier != e.Identifier || !bytes.Equal(p.Data, f.Data) || !tagsEqual(p.Tags, f.Tags) || !tagsEqual(e.Tags, f.Tags) {
			t.Fatalf("patch %q decodes to %q, %d bytes, tags %v", e.Identifier, p.Identifier, len(p.Data), p.Tags)
		}
		p2, err := whole.PatchByIdentifier(e.Identifier)
		if err != nil || !bytes.Equal(p2.Data, p.Data) {
			t.Fatalf("PatchByIdentifier(%q): %v", e.Identifier, err)
		}
	}
}

func indexEqual(a, b *quilt.Index) bool {
	if a.Columns != b.Columns || len(a.Patches) != len(b.Patches) {
		return false
	}
	for i := range a.Patches {
		x, y := a.Patches[i], b.Patches[i]
		if x.Identifier != y.Identifier || x.Start != y.Start || x.End != y.End || !tagsEqual(x.Tags, y.Tags) {
			return false
		}
	}
	return true
}

// TestVectorCoverage keeps the vectors honest: they must exercise what the brief asks for.
func TestVectorCoverage(t *testing.T) {
	var (
		ns                                          = map[int]bool{}
		maxFiles                                    int
		tags, noTags, empty, unicode, multiPatch    bool
		multiIndex, errorsSeen, maxIndex, fullQuilt bool
	)
	for _, v := range loadVectors(t) {
		if v.Error != "" {
			errorsSeen = true
			continue
		}
		ns[v.NShards] = true
		maxFiles = max(maxFiles, len(v.Files))
		for _, f := range v.Files {
			tags = tags || len(f.Tags) > 0
			noTags = noTags || len(f.Tags) == 0
			empty = empty || f.Len == 0
			for _, r := range f.Identifier {
				unicode = unicode || r > 0x7f
			}
		}
		for _, p := range v.Patches {
			multiPatch = multiPatch || p.End-p.Start > 1
		}
		multiIndex = multiIndex || v.IndexColumns > 1
		maxIndex = maxIndex || v.IndexColumns == quilt.MaxIndexColumns
		p, _ := redstuff.NewParams(v.NShards)
		fullQuilt = fullQuilt || len(v.Files) == p.SecondarySource-1
	}
	for _, n := range []int{10, 100, 1000} {
		if !ns[n] {
			t.Errorf("no vector for n = %d", n)
		}
	}
	checks := map[string]bool{
		"several hundred files": maxFiles >= 600, "tags": tags, "no tags": noTags, "empty files": empty,
		"unicode identifiers": unicode, "multi-column patch": multiPatch, "multi-column index": multiIndex,
		"index of 10 columns": maxIndex, "refused inputs": errorsSeen, "a full quilt (K_s-1 patches)": fullQuilt,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("no vector has %s", what)
		}
	}
}
