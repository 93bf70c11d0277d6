package quilt_test

import (
	"testing"

	"github.com/floelabs/floe/quilt"
)

// BenchmarkEncode600 builds the quilt of 600 files of 10 KiB at n = 1000 (bytes = file bytes).
func BenchmarkEncode600(b *testing.B) {
	files := files600()
	total := 0
	for _, f := range files {
		total += len(f.Data)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := quilt.Encode(1000, files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePatch extracts one 10 KiB patch from the column it spans (bytes = patch data).
func BenchmarkDecodePatch(b *testing.B) {
	q, err := quilt.Encode(1000, files600())
	if err != nil {
		b.Fatal(err)
	}
	e := q.Index.Patches[300]
	cols := q.Columns(e.Start, e.End)
	b.SetBytes(10240)
	b.ReportAllocs()
	for b.Loop() {
		p, err := quilt.DecodePatch(q.Layout, cols)
		if err != nil || len(p.Data) != 10240 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeIndex decodes the 600-entry index from its column (bytes = column bytes).
func BenchmarkDecodeIndex(b *testing.B) {
	q, err := quilt.Encode(1000, files600())
	if err != nil {
		b.Fatal(err)
	}
	cols := q.Columns(0, q.Index.Columns)
	b.SetBytes(int64(len(cols) * q.Layout.ColumnSize()))
	b.ReportAllocs()
	for b.Loop() {
		ix, err := quilt.DecodeIndex(q.Layout, cols)
		if err != nil || len(ix.Patches) != 600 {
			b.Fatal(err)
		}
	}
}
