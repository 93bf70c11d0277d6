//go:build !purego

package crc32c

import (
	"math/bits"
	"testing"
)

// foldConst is x^n mod P as updateAVX512 takes it: a 64-bit bit-reflected polynomial.
func foldConst(n int) uint64 { return uint64(bits.Reverse32(xPowMod(n))) << 32 }

// TestFoldConstants recomputes foldK.
func TestFoldConstants(t *testing.T) {
	var w []uint64
	for _, d := range []int{2048, 512, 384, 256, 128} {
		w = append(w, foldConst(63+d), foldConst(d-1))
	}
	skip := 8 * (3*streamBytes + 256)
	w = append(w, 0, 0, foldConst(63+skip), foldConst(skip-1))
	w = append(w, uint64(bits.Reverse32(xPowMod(16*streamBytes+31))), uint64(bits.Reverse32(xPowMod(8*streamBytes+31))))
	if len(foldK) != len(w) {
		t.Fatalf("%d constants, want %d", len(foldK), len(w))
	}
	for i, k := range foldK {
		if k != w[i] {
			t.Errorf("foldK[%d] = %#016x, want %#016x", i, k, w[i])
		}
	}
}
