package redstuff_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

// encodedBlob returns an encoder for n shards and the encoding of a random blob of size bytes.
func encodedBlob(tb testing.TB, n, size int, seed uint64) (*redstuff.Encoder, *redstuff.Encoding) {
	tb.Helper()
	enc, err := redstuff.New(n)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := enc.Encode(randomBlob(size, seed))
	if err != nil {
		tb.Fatal(err)
	}
	return enc, e
}

func randomBlob(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

var benchSizes = []int{1 << 20, 64 << 20, 256 << 20}

// sizesFor returns the benchmark sizes n shards can encode (n=100 holds at most ~142 MiB).
func sizesFor(b *testing.B, n int) []int {
	enc, err := redstuff.New(n)
	if err != nil {
		b.Fatal(err)
	}
	var out []int
	for _, size := range benchSizes {
		if uint64(size) <= enc.Params().MaxBlobSize() {
			out = append(out, size)
		}
	}
	return out
}

// The benchmarks report cpu-ns/op besides ns/op: the process's CPU time per operation, which
// a busy machine inflates less than wall time.

// BenchmarkCommit measures computing the metadata (what a blob ID needs).
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1000, 100} {
		for _, size := range sizesFor(b, n) {
			b.Run(fmt.Sprintf("n=%d/size=%dMiB", n, size>>20), func(b *testing.B) {
				enc, err := redstuff.New(n)
				if err != nil {
					b.Fatal(err)
				}
				data := randomBlob(size, 1)
				b.SetBytes(int64(size))
				b.ResetTimer()
				start := redstuff.CPUTime()
				for i := 0; i < b.N; i++ {
					if _, err := enc.Commit(data); err != nil {
						b.Fatal(err)
					}
				}
				redstuff.ReportCPU(b, start)
			})
		}
	}
}

// BenchmarkEncode measures encoding into all slivers plus metadata.
func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{1000, 100} {
		for _, size := range sizesFor(b, n) {
			b.Run(fmt.Sprintf("n=%d/size=%dMiB", n, size>>20), func(b *testing.B) {
				enc, err := redstuff.New(n)
				if err != nil {
					b.Fatal(err)
				}
				data := randomBlob(size, 1)
				b.SetBytes(int64(size))
				b.ResetTimer()
				start := redstuff.CPUTime()
				for i := 0; i < b.N; i++ {
					if _, err := enc.Encode(data); err != nil {
						b.Fatal(err)
					}
				}
				redstuff.ReportCPU(b, start)
			})
		}
	}
}

// BenchmarkDecode measures reading a blob back from K_p primary slivers: the systematic ones
// (a copy) and the last K_p ones (a full erasure decode).
func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{1000, 100} {
		for _, size := range sizesFor(b, n) {
			enc, err := redstuff.New(n)
			if err != nil {
				b.Fatal(err)
			}
			data := randomBlob(size, 2)
			e, err := enc.Encode(data)
			if err != nil {
				b.Fatal(err)
			}
			p := enc.Params()
			for _, kind := range []string{"systematic", "recovery"} {
				b.Run(fmt.Sprintf("n=%d/size=%dMiB/%s", n, size>>20, kind), func(b *testing.B) {
					first := 0
					if kind == "recovery" {
						first = n - p.PrimarySource
					}
					var in []redstuff.Sliver
					for i := first; i < first+p.PrimarySource; i++ {
						in = append(in, redstuff.Sliver{Axis: redstuff.Primary, Index: i, SymbolSize: e.SymbolSize, Data: e.Primary[i]})
					}
					b.SetBytes(int64(size))
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := enc.Decode(uint64(size), in, nil); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			e = nil
		}
	}
}

// BenchmarkRecoverSliver measures rebuilding one primary and one secondary sliver from
// recovery symbols (symbol verification and decoding; the symbols are made beforehand).
// Bytes are the size of the rebuilt sliver pair.
func BenchmarkRecoverSliver(b *testing.B) {
	for _, n := range []int{1000, 100} {
		for _, size := range []int{1 << 20, 64 << 20} {
			enc, err := redstuff.New(n)
			if err != nil {
				b.Fatal(err)
			}
			e, err := enc.Encode(randomBlob(size, 3))
			if err != nil {
				b.Fatal(err)
			}
			const target = 5
			var forPrimary, forSecondary []redstuff.RecoverySymbol
			for src := 0; src < n; src++ {
				rs, err := enc.RecoverySymbols(redstuff.Sliver{Axis: redstuff.Secondary, Index: src, SymbolSize: e.SymbolSize, Data: e.Secondary[src]}, []int{target})
				if err != nil {
					b.Fatal(err)
				}
				forPrimary = append(forPrimary, rs...)
				rs, err = enc.RecoverySymbols(redstuff.Sliver{Axis: redstuff.Primary, Index: src, SymbolSize: e.SymbolSize, Data: e.Primary[src]}, []int{target})
				if err != nil {
					b.Fatal(err)
				}
				forSecondary = append(forSecondary, rs...)
			}
			// Use the non-systematic symbols first so that decoding really runs.
			reverse := func(s []redstuff.RecoverySymbol) {
				for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
					s[i], s[j] = s[j], s[i]
				}
			}
			reverse(forPrimary)
			reverse(forSecondary)
			b.Run(fmt.Sprintf("n=%d/size=%dMiB", n, size>>20), func(b *testing.B) {
				b.SetBytes(int64(len(e.Primary[target]) + len(e.Secondary[target])))
				for i := 0; i < b.N; i++ {
					if _, _, err := enc.RecoverSliver(redstuff.Primary, target, e.SymbolSize, forPrimary, e.Hashes); err != nil {
						b.Fatal(err)
					}
					if _, _, err := enc.RecoverSliver(redstuff.Secondary, target, e.SymbolSize, forSecondary, e.Hashes); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkVerifyAll measures what the storage nodes of a committee do for one stored blob:
// verify every primary and secondary sliver (expand it and compute its Merkle root), on all
// cores. Bytes are the blob's; compare with BenchmarkCommit, which is what a blob ID costs.
func BenchmarkVerifyAll(b *testing.B) {
	const n, size = 1000, 256 << 20
	enc, e := encodedBlob(b, n, size, 4)
	var all []redstuff.Sliver
	for p := 0; p < n; p++ {
		pr, se := e.Pair(p)
		all = append(all, pr, se)
	}
	b.SetBytes(size)
	start := redstuff.CPUTime()
	for b.Loop() {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(all) {
						return
					}
					if err := enc.VerifySliver(all[i], e.SymbolSize, e.Hashes); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	redstuff.ReportCPU(b, start)
}

// BenchmarkEncodeAt measures encoding a blob read from a file into all slivers written to a
// temporary file (the bounded-memory store path), n = 1000.
func BenchmarkEncodeAt(b *testing.B) {
	for _, size := range []int{64 << 20, 256 << 20} {
		b.Run(fmt.Sprintf("n=1000/size=%dMiB", size>>20), func(b *testing.B) {
			enc, err := redstuff.New(1000)
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			in := filepath.Join(dir, "blob")
			if err := os.WriteFile(in, randomBlob(size, 1), 0o600); err != nil {
				b.Fatal(err)
			}
			f, err := os.Open(in)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			out, err := os.Create(filepath.Join(dir, "slivers"))
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := redstuff.CPUTime()
			for i := 0; i < b.N; i++ {
				if _, err := enc.EncodeAt(f, int64(size), out); err != nil {
					b.Fatal(err)
				}
			}
			redstuff.ReportCPU(b, start)
		})
	}
}
