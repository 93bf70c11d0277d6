package redstuff_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
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

// memFile is an in-memory ReaderWriterAt that grows as it is written.
type memFile struct {
	mu sync.Mutex
	b  []byte
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	k := copy(p, m.b[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

// failingFile fails writes at or past failAt.
type failingFile struct {
	memFile
	failAt int64
}

func (f *failingFile) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.failAt {
		return 0, errors.New("disk full")
	}
	return f.memFile.WriteAt(p, off)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// TestEncodeAt checks EncodeAt (and CommitAt) against Encode: the same commitment and every sliver at its
// SliverOffset, for symbols of whole blocks and with tails, rows written one at a time and in
// groups; and its errors for failed reads and writes.
func TestEncodeAt(t *testing.T) {
	cases := append(propertyCases, struct{ n, size int }{300, 1 << 20}, struct{ n, size int }{1000, 1024}, struct{ n, size int }{1000, 3 << 20}, struct{ n, size int }{1000, 40 << 20})
	for _, tc := range cases {
		if raceEnabled && tc.n >= 300 {
			continue
		}
		t.Run(fmt.Sprintf("n=%d/size=%d", tc.n, tc.size), func(t *testing.T) {
			enc := mustEncoder(t, tc.n)
			p := enc.Params()
			data := randomBlob(tc.size, uint64(tc.size)+7)
			want, err := enc.Encode(data)
			if err != nil {
				t.Fatal(err)
			}
			var f memFile
			got, err := enc.EncodeAt(bytes.NewReader(data), int64(len(data)), &f)
			if err != nil {
				t.Fatal(err)
			}
			// Rows one at a time and in groups of two: the same file.
			for _, rowsPerGroup := range []int{1, 2} {
				s := want.SymbolSize
				other, err := redstuff.New(tc.n, redstuff.WithGroupBytes(rowsPerGroup*tc.n*s))
				if err != nil {
					t.Fatal(err)
				}
				var g memFile
				if _, err := other.EncodeAt(bytes.NewReader(data), int64(len(data)), &g); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(g.b, f.b) {
					t.Fatalf("EncodeAt with %d rows per group wrote other bytes", rowsPerGroup)
				}
			}
			if got.Root != want.Root || got.Length != want.Length || got.SymbolSize != want.SymbolSize {
				t.Fatal("EncodeAt's commitment differs from Encode's")
			}
			s := want.SymbolSize
			if end := p.SliverOffset(redstuff.Secondary, p.NShards, s); int64(len(f.b)) != end {
				t.Fatalf("EncodeAt wrote %d bytes, want %d", len(f.b), end)
			}
			for i := 0; i < p.NShards; i++ {
				off := p.SliverOffset(redstuff.Primary, i, s)
				if !bytes.Equal(f.b[off:off+int64(len(want.Primary[i]))], want.Primary[i]) {
					t.Fatalf("primary sliver %d differs", i)
				}
				off = p.SliverOffset(redstuff.Secondary, i, s)
				if !bytes.Equal(f.b[off:off+int64(len(want.Secondary[i]))], want.Secondary[i]) {
					t.Fatalf("secondary sliver %d differs", i)
				}
			}
			// CommitAt: the same commitment, and only the secondary slivers past K_s written,
			// as EncodeAt writes them; rows one at a time and in groups.
			for _, rowsPerGroup := range []int{0, 1, 2} {
				ce := enc
				if rowsPerGroup > 0 {
					if ce, err = redstuff.New(tc.n, redstuff.WithGroupBytes(rowsPerGroup*tc.n*s)); err != nil {
						t.Fatal(err)
					}
				}
				var h memFile
				c, err := ce.CommitAt(bytes.NewReader(data), int64(len(data)), &h)
				if err != nil {
					t.Fatal(err)
				}
				if c.Root != want.Root || c.Length != want.Length || c.SymbolSize != want.SymbolSize {
					t.Fatalf("CommitAt (%d rows per group): its commitment differs from Encode's", rowsPerGroup)
				}
				from := p.SliverOffset(redstuff.Secondary, p.SecondarySource, s)
				if len(h.b) > 0 && (int64(len(h.b)) != int64(len(f.b)) || !bytes.Equal(h.b[from:], f.b[from:]) || !allZero(h.b[:from])) {
					t.Fatalf("CommitAt (%d rows per group) wrote other bytes than the right block", rowsPerGroup)
				}
			}
			if tc.size == 0 {
				return
			}
			boom := errors.New("disk on fire")
			if _, err := enc.CommitAt(bytes.NewReader(data), int64(len(data)), &failingFile{failAt: int64(len(f.b)) - 1}); err == nil {
				t.Fatal("CommitAt: failed write: no error")
			}
			if _, err := enc.CommitAt(&flakyReader{data, int64(tc.size / 2), boom}, int64(len(data)), &memFile{}); !errors.Is(err, redstuff.ErrBlobRead) || !errors.Is(err, boom) {
				t.Fatalf("CommitAt: failed read: %v", err)
			}
			if _, err := enc.EncodeAt(&flakyReader{data, int64(tc.size / 2), boom}, int64(len(data)), &memFile{}); !errors.Is(err, redstuff.ErrBlobRead) || !errors.Is(err, boom) {
				t.Fatalf("failed read: %v", err)
			}
			if _, err := enc.EncodeAt(bytes.NewReader(data), int64(len(data)), &failingFile{failAt: int64(len(f.b)) / 2}); err == nil {
				t.Fatal("failed write: no error")
			}
		})
	}
}
