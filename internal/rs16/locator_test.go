package rs16

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestLocatorDirect: the directly summed error locator equals the one of the two Walsh
// transforms (mod 65535) at every position a codeword uses, for erasure patterns with and
// without an erased tail, from tiny codes to ones past the direct bound.
func TestLocatorDirect(t *testing.T) {
	tb := fieldTables()
	rng := rand.New(rand.NewPCG(7, 8))
	norm := func(v uint16) uint16 {
		if v == modulus {
			return 0
		}
		return v
	}
	for _, end := range []int{1, 2, 5, 64, 100, 192, 256, 1024, 1500} {
		for _, tail := range []bool{false, true} {
			for trial := 0; trial < 3; trial++ {
				t.Run(fmt.Sprintf("end=%d/tail=%v/%d", end, tail, trial), func(t *testing.T) {
					var e [order]uint16
					var marked []int
					for j := 0; j < end; j++ {
						if rng.IntN(3) == 0 {
							e[j] = 1
						}
						if (e[j] != 0) != tail {
							marked = append(marked, j)
						}
					}
					want := e
					truncated := end
					if tail {
						truncated = order
						for i := end; i < order; i++ {
							want[i] = 1
						}
					}
					tb.evalPoly(&want, truncated)
					got := e
					tb.locatorDirect(&got, end, tail, marked)
					viaLocator := e
					tb.locator(&viaLocator, end, tail)
					for i := 0; i < end; i++ {
						if norm(got[i]) != norm(want[i]) || norm(viaLocator[i]) != norm(want[i]) {
							t.Fatalf("position %d: direct %d, locator %d, Walsh transforms %d", i, got[i], viaLocator[i], want[i])
						}
					}
				})
			}
		}
	}
}

// BenchmarkDecodeSmall decodes one sliver's worth of a 100-shard code (k = 34 and 67, as
// RedStuff's two axes at n = 100) from k random shards: the error locator dominates a small
// sliver's decode.
func BenchmarkDecodeSmall(b *testing.B) {
	for _, tc := range []struct{ k, m int }{{34, 66}, {67, 33}} {
		b.Run(fmt.Sprintf("k=%d/m=%d", tc.k, tc.m), func(b *testing.B) {
			c, err := New(tc.k, tc.m)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			const size = 128
			orig := randomShards(rng, tc.k, size)
			rec := randomShards(rng, tc.m, size)
			if err := c.Encode(orig, rec); err != nil {
				b.Fatal(err)
			}
			all := append(append([][]byte{}, orig...), rec...)
			present := make([]bool, tc.k+tc.m)
			for _, i := range rng.Perm(tc.k + tc.m)[:tc.k] {
				present[i] = true
			}
			shards := make([][]byte, tc.k+tc.m)
			for i := range shards {
				shards[i] = make([]byte, size)
				if present[i] {
					copy(shards[i], all[i])
				}
			}
			b.SetBytes(int64(tc.k * size))
			for b.Loop() {
				if err := c.Decode(shards, present); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
