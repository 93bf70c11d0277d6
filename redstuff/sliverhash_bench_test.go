package redstuff_test

import (
	"fmt"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

// BenchmarkSliverHash measures what a storage node does to verify one uploaded sliver of a
// 256 MiB blob at n = 1000 (symbol size 1206): expand it with its axis's code and compute the
// Merkle root of the n symbols. Run it with -cpu 1 to see one node's cost; allocs/op is what
// the verification allocates per sliver in steady state.
func BenchmarkSliverHash(b *testing.B) {
	const n, size = 1000, 256 << 20
	enc, e := encodedBlob(b, n, size, 4)
	for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
		b.Run(fmt.Sprintf("axis=%s", a), func(b *testing.B) {
			// Cycle through several slivers, as a node does, so that one sliver's data does not
			// stay in the caches between iterations.
			const count = 16
			var sls []redstuff.Sliver
			for i := 0; i < count; i++ {
				pr, se := e.Pair(i)
				if a == redstuff.Primary {
					sls = append(sls, pr)
				} else {
					sls = append(sls, se)
				}
			}
			b.SetBytes(int64(len(sls[0].Data)))
			b.ReportAllocs()
			start := redstuff.CPUTime()
			i := 0
			for b.Loop() {
				if _, err := enc.SliverHash(sls[i%count]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			redstuff.ReportCPU(b, start)
		})
	}
}

// TestSliverHashAllocs checks that verifying a sliver allocates nothing in steady state: the
// encoding area and the per-symbol tables are pooled. (A node verifies 2n slivers per blob;
// per-sliver garbage of ~100 KB made its heap churn.)
func TestSliverHashAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	for _, n := range []int{10, 100} {
		enc, err := redstuff.New(n)
		if err != nil {
			t.Fatal(err)
		}
		// Symbol sizes with and without a tail (s mod 64 != 0).
		for _, size := range []int{100_000, enc.Params().SecondarySource * enc.Params().PrimarySource * 128} {
			e, err := enc.Encode(randomBlob(size, 5))
			if err != nil {
				t.Fatal(err)
			}
			pr, se := e.Pair(1)
			for _, sl := range []redstuff.Sliver{pr, se} {
				if err := enc.VerifySliver(sl, e.SymbolSize, e.Hashes); err != nil {
					t.Fatal(err)
				}
				allocs := testing.AllocsPerRun(20, func() {
					if err := enc.VerifySliver(sl, e.SymbolSize, e.Hashes); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("n=%d, symbol size %d, %s sliver: %v allocations per verification, want 0", n, e.SymbolSize, sl.Axis, allocs)
				}
			}
		}
	}
}
