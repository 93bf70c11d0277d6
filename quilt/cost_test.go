package quilt_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/quilt"
)

// files600 returns 600 files of 10 KiB, the case of issue 15's acceptance.
func files600() []quilt.Patch {
	out := make([]quilt.Patch, 600)
	for i := range out {
		out[i] = quilt.Patch{Identifier: fmt.Sprintf("file-%03d.bin", i), Data: genData(uint64(i), 10240)}
	}
	return out
}

// TestQuiltCostRatio is issue 15's acceptance: at n = 1000, 600 files of 10 KiB stored as one
// quilt must cost at least 400 times less than 600 separate blobs (Walrus: 409x). Costs come
// from the control plane's own Cost (encoded length in MiB units x storage price x epochs +
// write price), at the prices of a real genesis.
func TestQuiltCostRatio(t *testing.T) {
	const n = 1000
	net := cptest.NewNetwork(n, 4, 0, 0, nil, time.Unix(1_700_000_000, 0))
	st, _, err := controlplane.NewState(net.Genesis)
	if err != nil {
		t.Fatal(err)
	}
	files := files600()
	q, err := quilt.Encode(n, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, epochs := range []uint32{1, 52} {
		qEnc, qStorage, qWrite, err := st.Cost(uint64(len(q.Data)), epochs)
		if err != nil {
			t.Fatal(err)
		}
		var blobsEnc, blobsCost uint64
		for _, f := range files {
			enc, storage, write, err := st.Cost(uint64(len(f.Data)), epochs)
			if err != nil {
				t.Fatal(err)
			}
			blobsEnc += enc
			blobsCost += storage + write
		}
		ratio := float64(blobsCost) / float64(qStorage+qWrite)
		t.Logf("n=%d, %d epochs: quilt of %d bytes (symbol size %d): encoded %d bytes, cost %d; "+
			"600 blobs of 10 KiB: encoded %d bytes, cost %d; ratio %.1fx (encoded-length ratio %.1fx)",
			n, epochs, len(q.Data), q.Layout.SymbolSize, qEnc, qStorage+qWrite, blobsEnc, blobsCost, ratio, float64(blobsEnc)/float64(qEnc))
		if ratio < 400 {
			t.Fatalf("a quilt costs only %.1fx less than separate blobs, want at least 400x", ratio)
		}
		if want, _ := blob.EncodedLength(uint64(len(q.Data)), n); want != qEnc {
			t.Fatalf("control plane charges %d encoded bytes for the quilt, blob.EncodedLength says %d", qEnc, want)
		}
	}
}

// TestPatchReadBytes reports what a reader fetches to read one 10 KiB patch of the 600-file
// quilt at n = 1000: the columns (secondary slivers) it spans, plus the index's columns when it
// starts from an identifier rather than a patch ID; versus the K_p primary slivers a whole-blob
// read needs.
func TestPatchReadBytes(t *testing.T) {
	q, err := quilt.Encode(1000, files600())
	if err != nil {
		t.Fatal(err)
	}
	l := q.Layout
	for _, e := range q.Index.Patches {
		if e.End-e.Start != 1 {
			t.Fatalf("patch %q spans %d columns, want 1", e.Identifier, e.End-e.Start)
		}
	}
	patch := l.ColumnSize()
	index := q.Index.Columns * l.ColumnSize()
	whole := l.Rows * l.RowSize()
	t.Logf("10 KiB patch of a 600-file quilt, n=1000: by patch ID %d bytes (1 secondary sliver), by identifier %d bytes (+%d index column(s)); whole quilt blob %d bytes (%.0fx more than by patch ID)",
		patch, patch+index, q.Index.Columns, whole, float64(whole)/float64(patch))
}
