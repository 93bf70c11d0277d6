package redstuff_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

// memWriterAt is an io.WriterAt over a fixed buffer.
type memWriterAt []byte

func (m memWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m)) {
		return 0, fmt.Errorf("write of %d bytes at %d past %d", len(p), off, len(m))
	}
	return copy(m[off:], p), nil
}

// TestDecodeRowsAt rebuilds the missing rows of every property case from random K_p-subsets
// of primary slivers (a mix of systematic and recovery ones, only recovery ones, all
// systematic), compares them with the encoding, and runs CheckRowsAt on them, then on a
// corrupted row.
func TestDecodeRowsAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	cases := append(propertyCases, struct{ n, size int }{1000, 1 << 20}, struct{ n, size int }{1000, 5 << 20})
	for _, tc := range cases {
		if raceEnabled && tc.n >= 1000 {
			continue
		}
		t.Run(fmt.Sprintf("n=%d/len=%d", tc.n, tc.size), func(t *testing.T) {
			enc := mustEncoder(t, tc.n)
			p := enc.Params()
			data := randomBlob(tc.size, uint64(tc.size)+3)
			e, err := enc.Encode(data)
			if err != nil {
				t.Fatal(err)
			}
			for trial := 0; trial < 3; trial++ {
				idx := rng.Perm(tc.n)[:p.PrimarySource]
				if trial == 1 { // recovery slivers only
					idx = idx[:0]
					for i := p.NShards - p.PrimarySource; i < p.NShards; i++ {
						idx = append(idx, i)
					}
				}
				have := map[int]io.ReaderAt{}
				for _, i := range idx {
					have[i] = bytes.NewReader(e.Primary[i])
				}
				out := map[int][]byte{}
				dst := map[int]io.WriterAt{}
				for r := 0; r < p.PrimarySource; r++ {
					out[r] = make([]byte, len(e.Primary[r]))
					dst[r] = memWriterAt(out[r])
				}
				if err := enc.DecodeRowsAt(e.SymbolSize, have, dst); err != nil {
					t.Fatal(err)
				}
				rebuilt := map[int]io.ReaderAt{}
				for r := 0; r < p.PrimarySource; r++ {
					if _, ok := have[r]; ok {
						if !bytes.Equal(out[r], make([]byte, len(out[r]))) {
							t.Fatalf("row %d was an input but was written", r)
						}
						continue
					}
					if !bytes.Equal(out[r], e.Primary[r]) {
						t.Fatalf("trial %d: row %d differs", trial, r)
					}
					rebuilt[r] = bytes.NewReader(out[r])
				}
				if err := enc.CheckRowsAt(e.SymbolSize, rebuilt, e.Hashes); err != nil {
					t.Fatal(err)
				}
				for r := range rebuilt {
					out[r][len(out[r])/2] ^= 1
					if err := enc.CheckRowsAt(e.SymbolSize, rebuilt, e.Hashes); !errors.Is(err, redstuff.ErrInconsistent) {
						t.Fatalf("corrupted row %d: %v", r, err)
					}
					out[r][len(out[r])/2] ^= 1
					break
				}
			}
		})
	}
}

// TestDecodeRowsAtErrors checks the refusals: too few slivers, a row that is not systematic,
// a failed or short read, a bad symbol size.
func TestDecodeRowsAtErrors(t *testing.T) {
	enc := mustEncoder(t, 10)
	p := enc.Params()
	data := randomBlob(5000, 5)
	e, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	have := map[int]io.ReaderAt{}
	for i := p.NShards - p.PrimarySource; i < p.NShards; i++ {
		have[i] = bytes.NewReader(e.Primary[i])
	}
	row := make([]byte, len(e.Primary[0]))
	dst := map[int]io.WriterAt{0: memWriterAt(row)}
	if err := enc.DecodeRowsAt(e.SymbolSize, map[int]io.ReaderAt{9: have[9]}, dst); !errors.Is(err, redstuff.ErrNotEnoughSlivers) {
		t.Fatalf("one sliver: %v", err)
	}
	if err := enc.DecodeRowsAt(e.SymbolSize, have, map[int]io.WriterAt{p.PrimarySource: memWriterAt(row)}); !errors.Is(err, redstuff.ErrInvalidSliver) {
		t.Fatalf("non-systematic row: %v", err)
	}
	if err := enc.DecodeRowsAt(3, have, dst); !errors.Is(err, redstuff.ErrSymbolSize) {
		t.Fatalf("odd symbol size: %v", err)
	}
	boom := errors.New("disk on fire")
	have[9] = &flakyReader{e.Primary[9], int64(len(e.Primary[9]) / 2), boom}
	if err := enc.DecodeRowsAt(e.SymbolSize, have, dst); !errors.Is(err, redstuff.ErrBlobRead) || !errors.Is(err, boom) {
		t.Fatalf("failed read: %v", err)
	}
	have[9] = bytes.NewReader(e.Primary[9][:len(e.Primary[9])-1])
	if err := enc.DecodeRowsAt(e.SymbolSize, have, dst); !errors.Is(err, redstuff.ErrBlobRead) {
		t.Fatalf("short sliver: %v", err)
	}
	if err := enc.CheckRowsAt(e.SymbolSize, map[int]io.ReaderAt{0: bytes.NewReader(row[:10])}, e.Hashes); !errors.Is(err, redstuff.ErrBlobRead) {
		t.Fatalf("short row: %v", err)
	}
	if err := enc.CheckRowsAt(e.SymbolSize, map[int]io.ReaderAt{0: bytes.NewReader(row)}, e.Hashes[:3]); !errors.Is(err, redstuff.ErrHashCount) {
		t.Fatalf("3 hashes: %v", err)
	}
}
