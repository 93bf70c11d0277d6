package redstuff_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

var propertyCases = []struct{ n, size int }{
	{4, 0}, {4, 1}, {7, 100}, {10, 33}, {10, 5000}, {13, 4097}, {31, 70000}, {100, 12345}, {100, 300000},
}

func mustEncoder(t testing.TB, n int) *redstuff.Encoder {
	t.Helper()
	enc, err := redstuff.New(n)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func slivers(e *redstuff.Encoding, a redstuff.Axis, idx []int) []redstuff.Sliver {
	out := make([]redstuff.Sliver, 0, len(idx))
	for _, i := range idx {
		d := e.Primary[i]
		if a == redstuff.Secondary {
			d = e.Secondary[i]
		}
		out = append(out, redstuff.Sliver{Axis: a, Index: i, SymbolSize: e.SymbolSize, Data: d})
	}
	return out
}

// TestDecodeRandomSubsets decodes every case from random K_p-subsets of primary slivers and
// random K_s-subsets of secondary slivers, with the consistency check on.
func TestDecodeRandomSubsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range propertyCases {
		t.Run(fmt.Sprintf("n=%d/len=%d", tc.n, tc.size), func(t *testing.T) {
			enc := mustEncoder(t, tc.n)
			p := enc.Params()
			data := randomBlob(tc.size, uint64(tc.size)+1)
			e, err := enc.Encode(data)
			if err != nil {
				t.Fatal(err)
			}
			for trial := 0; trial < 4; trial++ {
				for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
					need := p.SymbolCount(a.Other())
					idx := rng.Perm(tc.n)[:need]
					if trial == 0 { // the systematic slivers only
						for i := range idx {
							idx[i] = i
						}
					}
					got, err := enc.Decode(uint64(len(data)), slivers(e, a, idx), e.Hashes)
					if err != nil {
						t.Fatalf("%s %v: %v", a, idx, err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("%s decode from %v differs", a, idx)
					}
					// One sliver fewer is not enough.
					if _, err := enc.Decode(uint64(len(data)), slivers(e, a, idx[1:]), nil); !errors.Is(err, redstuff.ErrNotEnoughSlivers) {
						t.Fatalf("decode from %d %s slivers: %v, want ErrNotEnoughSlivers", need-1, a, err)
					}
				}
			}
		})
	}
}

// TestVerifySliver accepts every honest sliver and rejects corrupted ones.
func TestVerifySliver(t *testing.T) {
	enc := mustEncoder(t, 10)
	e, err := enc.Encode(randomBlob(3000, 5))
	if err != nil {
		t.Fatal(err)
	}
	for pair := 0; pair < 10; pair++ {
		pri, sec := e.Pair(pair)
		for _, sl := range []redstuff.Sliver{pri, sec} {
			if err := enc.VerifySliver(sl, e.SymbolSize, e.Hashes); err != nil {
				t.Fatalf("honest %s sliver %d: %v", sl.Axis, sl.Index, err)
			}
			bad := sl
			bad.Data = bytes.Clone(sl.Data)
			bad.Data[len(bad.Data)/2] ^= 1
			if err := enc.VerifySliver(bad, e.SymbolSize, e.Hashes); !errors.Is(err, redstuff.ErrInvalidSliver) {
				t.Fatalf("corrupted sliver: %v", err)
			}
			short := sl
			short.Data = sl.Data[:len(sl.Data)-2]
			if err := enc.VerifySliver(short, e.SymbolSize, e.Hashes); !errors.Is(err, redstuff.ErrInvalidSliver) {
				t.Fatalf("short sliver: %v", err)
			}
			moved := sl
			moved.Index = (sl.Index + 1) % 10
			if err := enc.VerifySliver(moved, e.SymbolSize, e.Hashes); !errors.Is(err, redstuff.ErrInvalidSliver) {
				t.Fatalf("sliver under another index: %v", err)
			}
		}
	}
}

// TestRecoverRandomSlivers rebuilds random slivers from random sets of recovery symbols.
func TestRecoverRandomSlivers(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range propertyCases {
		t.Run(fmt.Sprintf("n=%d/len=%d", tc.n, tc.size), func(t *testing.T) {
			enc := mustEncoder(t, tc.n)
			p := enc.Params()
			e, err := enc.Encode(randomBlob(tc.size, 99))
			if err != nil {
				t.Fatal(err)
			}
			for trial := 0; trial < 3; trial++ {
				for _, target := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
					idx := rng.IntN(tc.n)
					need := p.SymbolCount(target)
					var syms []redstuff.RecoverySymbol
					for _, src := range rng.Perm(tc.n)[:need] {
						source := slivers(e, target.Other(), []int{src})[0]
						rs, err := enc.RecoverySymbols(source, []int{idx})
						if err != nil {
							t.Fatal(err)
						}
						if err := enc.VerifyRecoverySymbol(rs[0], e.SymbolSize, e.Hashes); err != nil {
							t.Fatalf("honest symbol: %v", err)
						}
						syms = append(syms, rs[0])
					}
					// A corrupted symbol and a duplicate in front are skipped, not used.
					bad := syms[0]
					bad.Data = bytes.Clone(bad.Data)
					bad.Data[0] ^= 0x80
					if err := enc.VerifyRecoverySymbol(bad, e.SymbolSize, e.Hashes); !errors.Is(err, redstuff.ErrInvalidSymbol) {
						t.Fatalf("corrupted symbol: %v", err)
					}
					input := append([]redstuff.RecoverySymbol{bad}, syms...)
					got, proof, err := enc.RecoverSliver(target, idx, e.SymbolSize, input, e.Hashes)
					if err != nil || proof != nil {
						t.Fatalf("recover %s %d: %v", target, idx, err)
					}
					want := slivers(e, target, []int{idx})[0]
					if !bytes.Equal(got.Data, want.Data) {
						t.Fatalf("recovered %s sliver %d differs", target, idx)
					}
					if _, _, err := enc.RecoverSliver(target, idx, e.SymbolSize, syms[1:], e.Hashes); !errors.Is(err, redstuff.ErrNotEnoughSymbols) {
						t.Fatalf("recover from %d symbols: %v", need-1, err)
					}
				}
			}
		})
	}
}

// TestInconsistencyProof encodes a blob inconsistently (one primary sliver replaced, its hash
// recomputed so the metadata commits to it) and checks that recovering that sliver yields a
// proof that verifies against the metadata alone, while a proof for an honest blob does not.
func TestInconsistencyProof(t *testing.T) {
	for _, n := range []int{7, 10, 100} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			enc := mustEncoder(t, n)
			p := enc.Params()
			e, err := enc.Encode(randomBlob(4000, 3))
			if err != nil {
				t.Fatal(err)
			}
			honest := append([]redstuff.PairHashes(nil), e.Hashes...)
			const victim = 1
			forged := redstuff.Sliver{Axis: redstuff.Primary, Index: victim, SymbolSize: e.SymbolSize, Data: bytes.Clone(e.Primary[victim])}
			forged.Data[0] ^= 0xff
			fh, err := enc.SliverHash(forged)
			if err != nil {
				t.Fatal(err)
			}
			lying := append([]redstuff.PairHashes(nil), honest...)
			lying[victim].Primary = fh

			var syms []redstuff.RecoverySymbol
			for src := 0; src < n; src++ {
				source := slivers(e, redstuff.Secondary, []int{src})[0]
				rs, err := enc.RecoverySymbols(source, []int{victim})
				if err != nil {
					t.Fatal(err)
				}
				syms = append(syms, rs...)
			}
			_, proof, err := enc.RecoverSliver(redstuff.Primary, victim, e.SymbolSize, syms, lying)
			if !errors.Is(err, redstuff.ErrInconsistent) || proof == nil {
				t.Fatalf("recovering the forged sliver: %v, proof %v", err, proof != nil)
			}
			if len(proof.Symbols) != p.SymbolCount(redstuff.Primary) {
				t.Fatalf("proof has %d symbols", len(proof.Symbols))
			}
			if err := enc.VerifyInconsistencyProof(proof, e.SymbolSize, lying); err != nil {
				t.Fatalf("valid proof rejected: %v", err)
			}
			// Against the honest metadata the same symbols decode to the committed sliver.
			if err := enc.VerifyInconsistencyProof(proof, e.SymbolSize, honest); !errors.Is(err, redstuff.ErrInvalidProof) {
				t.Fatalf("proof against honest metadata: %v", err)
			}
			// A proof missing a symbol, or with a tampered symbol, is rejected.
			short := *proof
			short.Symbols = proof.Symbols[1:]
			if err := enc.VerifyInconsistencyProof(&short, e.SymbolSize, lying); !errors.Is(err, redstuff.ErrInvalidProof) {
				t.Fatalf("short proof: %v", err)
			}
			tampered := *proof
			tampered.Symbols = append([]redstuff.RecoverySymbol(nil), proof.Symbols...)
			tampered.Symbols[0].Data = bytes.Clone(tampered.Symbols[0].Data)
			tampered.Symbols[0].Data[0] ^= 1
			if err := enc.VerifyInconsistencyProof(&tampered, e.SymbolSize, lying); !errors.Is(err, redstuff.ErrInvalidProof) {
				t.Fatalf("tampered proof: %v", err)
			}
			// A reader decoding the forged blob detects the inconsistency.
			var prim []redstuff.Sliver
			for i := 0; i < n; i++ {
				if i != victim && len(prim) < p.PrimarySource {
					prim = append(prim, slivers(e, redstuff.Primary, []int{i})[0])
				}
			}
			if len(prim) == p.PrimarySource {
				if _, err := enc.Decode(4000, prim, lying); !errors.Is(err, redstuff.ErrInconsistent) {
					t.Fatalf("decode of forged blob: %v, want ErrInconsistent", err)
				}
			}
		})
	}
}

// TestDecodeHostileInput feeds slivers with wrong lengths, duplicate and out-of-range indices
// and wrong symbol sizes: errors, never panics, and valid slivers among them still decode.
func TestDecodeHostileInput(t *testing.T) {
	enc := mustEncoder(t, 10)
	data := randomBlob(1000, 8)
	e, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	good := slivers(e, redstuff.Primary, []int{5, 6, 7, 8})
	hostile := []redstuff.Sliver{
		{Axis: redstuff.Primary, Index: -1, SymbolSize: e.SymbolSize, Data: e.Primary[0]},
		{Axis: redstuff.Primary, Index: 10, SymbolSize: e.SymbolSize, Data: e.Primary[0]},
		{Axis: redstuff.Primary, Index: 1, SymbolSize: e.SymbolSize, Data: e.Primary[1][:3]},
		{Axis: redstuff.Primary, Index: 2, SymbolSize: e.SymbolSize + 2, Data: e.Primary[2]},
		{Axis: 7, Index: 3, SymbolSize: e.SymbolSize, Data: e.Primary[3]},
		good[0], good[0], good[0],
	}
	if _, err := enc.Decode(uint64(len(data)), hostile, e.Hashes); !errors.Is(err, redstuff.ErrNotEnoughSlivers) {
		t.Fatalf("hostile only: %v", err)
	}
	got, err := enc.Decode(uint64(len(data)), append(hostile, good...), e.Hashes)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("hostile + good: %v", err)
	}
	if _, err := enc.Decode(1<<62, good, nil); !errors.Is(err, redstuff.ErrDataTooLarge) {
		t.Fatalf("huge length: %v", err)
	}
	if _, err := enc.Decode(uint64(len(data)), good, e.Hashes[:3]); !errors.Is(err, redstuff.ErrHashCount) {
		t.Fatalf("short hashes: %v", err)
	}
}

// TestMemoryLimit: a blob whose expansion needs more than the limit is refused, not attempted.
func TestMemoryLimit(t *testing.T) {
	enc, err := redstuff.New(100, redstuff.WithMemoryLimit(100*100*32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Commit([]byte("x")); !errors.Is(err, redstuff.ErrWorkingSetTooLarge) {
		t.Fatalf("Commit: %v, want ErrWorkingSetTooLarge", err)
	}
	if _, err := enc.Encode([]byte("x")); !errors.Is(err, redstuff.ErrWorkingSetTooLarge) {
		t.Fatalf("Encode: %v, want ErrWorkingSetTooLarge", err)
	}
	big, err := redstuff.New(30000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := big.Commit(nil); !errors.Is(err, redstuff.ErrWorkingSetTooLarge) {
		t.Fatalf("n = 30000 with the default limit: %v", err)
	}
}

// flakyReader is an io.ReaderAt over data that fails reads reaching past failAt, with err (or
// a short read without error when err is nil).
type flakyReader struct {
	data   []byte
	failAt int64
	err    error
}

func (f *flakyReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.failAt {
		n := max(0, int(f.failAt-off))
		copy(p[:n], f.data[off:])
		return n, f.err
	}
	return copy(p, f.data[off:]), nil
}

// TestCommitReaderAt checks CommitReaderAt against Commit (blobs in memory, whole rows and
// ragged tails, symbols of whole blocks and with tails) and its errors for failed and short
// reads.
func TestCommitReaderAt(t *testing.T) {
	for _, tc := range []struct{ n, size int }{
		{4, 0}, {4, 1}, {10, 5000}, {13, 4097}, {100, 12345}, {100, 300000}, {300, 1 << 20}, {1000, 1024}, {1000, 3 << 20},
	} {
		if raceEnabled && tc.n >= 300 {
			continue // TestWalrusVectors checks CommitReaderAt at n = 1000; .ci/run runs these
		}
		t.Run(fmt.Sprintf("n=%d/size=%d", tc.n, tc.size), func(t *testing.T) {
			enc := mustEncoder(t, tc.n)
			data := make([]byte, tc.size)
			rng := rand.New(rand.NewPCG(uint64(tc.size), 11))
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			want, err := enc.Commit(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc.CommitReaderAt(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Root != want.Root || got.Length != want.Length || got.SymbolSize != want.SymbolSize {
				t.Fatalf("CommitReaderAt differs from Commit")
			}
			if tc.size == 0 {
				return
			}
			failAt := int64(rng.IntN(tc.size))
			boom := errors.New("disk on fire")
			if _, err := enc.CommitReaderAt(&flakyReader{data, failAt, boom}, int64(len(data))); !errors.Is(err, redstuff.ErrBlobRead) || !errors.Is(err, boom) {
				t.Fatalf("failed read at %d: %v", failAt, err)
			}
			if _, err := enc.CommitReaderAt(&flakyReader{data, failAt, nil}, int64(len(data))); !errors.Is(err, redstuff.ErrBlobRead) {
				t.Fatalf("short read at %d: %v", failAt, err)
			}
			if _, err := enc.CommitReaderAt(bytes.NewReader(data[:tc.size-1]), int64(len(data))); !errors.Is(err, redstuff.ErrBlobRead) {
				t.Fatalf("shrunk file: %v", err)
			}
		})
	}
	if _, err := mustEncoder(t, 10).CommitReaderAt(bytes.NewReader(nil), -1); !errors.Is(err, redstuff.ErrBlobRead) {
		t.Fatalf("negative length: %v", err)
	}
}
