package redstuff_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/floelabs/floe/redstuff"
)

// TestEncodeLean checks that a lean encoding's slivers and commitment are exactly Encode's,
// for blobs that fill the message matrix or only part of it (the tail rows), into new
// memory, into reused memory full of other bytes, and that it keeps only LeanMemory bytes.
func TestEncodeLean(t *testing.T) {
	for _, tc := range []struct{ n, size int }{{4, 0}, {4, 1}, {7, 2 * 3 * 5 * 2}, {10, 5000}, {13, 4097}, {100, 300000}, {100, 34 * 67 * 64}} {
		t.Run(fmt.Sprintf("n=%d/size=%d", tc.n, tc.size), func(t *testing.T) {
			enc := mustEncoder(t, tc.n)
			rng := rand.New(rand.NewPCG(uint64(tc.size), 9))
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			want, err := enc.Encode(data)
			if err != nil {
				t.Fatal(err)
			}
			need, err := enc.LeanMemory(uint64(tc.size))
			if err != nil {
				t.Fatal(err)
			}
			if full, _ := enc.SliverMemory(uint64(tc.size)); need >= full {
				t.Fatalf("LeanMemory %d bytes, not less than Encode's %d", need, full)
			}
			check := func(l *redstuff.LeanEncoding) {
				t.Helper()
				if l.Root != want.Root || l.SymbolSize != want.SymbolSize || l.Length != want.Length {
					t.Fatal("the lean encoding's commitment differs from Encode's")
				}
				for i := range tc.n {
					if got := l.AppendSliver(nil, redstuff.Primary, i); !bytes.Equal(got, want.Primary[i]) {
						t.Fatalf("primary sliver %d differs from Encode's", i)
					}
					if got := l.AppendSliver(nil, redstuff.Secondary, i); !bytes.Equal(got, want.Secondary[i]) {
						t.Fatalf("secondary sliver %d differs from Encode's", i)
					}
				}
			}
			fresh, err := enc.EncodeLean(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(fresh.Memory()) != need {
				t.Fatalf("EncodeLean kept %d bytes, LeanMemory says %d", len(fresh.Memory()), need)
			}
			check(fresh)
			mem := make([]byte, need+100)
			for i := range mem {
				mem[i] = byte(rng.Uint32())
			}
			reused, err := enc.EncodeLean(data, mem)
			if err != nil {
				t.Fatal(err)
			}
			if need > 0 && unsafe.SliceData(reused.Memory()) != unsafe.SliceData(mem) {
				t.Fatal("EncodeLean did not use the memory it was given")
			}
			check(reused)
			if need > 1 {
				small, err := enc.EncodeLean(data, make([]byte, need-1))
				if err != nil {
					t.Fatal(err)
				}
				check(small)
			}
		})
	}
}
