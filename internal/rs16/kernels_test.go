package rs16

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestKernelsAgree checks the fastest kernels against the table-driven reference for random
// data and multipliers, including zero elements and the log 65535.
func TestKernelsAgree(t *testing.T) {
	tab := fieldTables()
	ref := genericKernels(tab)
	fast := bestKernels(tab)
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 200; iter++ {
		size := 64 * (1 + rng.IntN(40))
		x := make([]byte, size)
		y := make([]byte, size)
		for i := range x {
			x[i] = byte(rng.Uint32())
			if rng.IntN(8) != 0 {
				y[i] = byte(rng.Uint32())
			}
		}
		logM := uint16(rng.IntN(order))
		if iter == 0 {
			logM = modulus
		}
		x1, x2 := bytes.Clone(x), bytes.Clone(x)
		ref.mulAdd(x1, y, logM)
		fast.mulAdd(x2, y, logM)
		if !bytes.Equal(x1, x2) {
			t.Fatalf("mulAdd differs (logM %d, size %d)", logM, size)
		}
		y1, y2 := bytes.Clone(y), bytes.Clone(y)
		ref.fft(x1, y1, logM)
		fast.fft(x2, y2, logM)
		if !bytes.Equal(x1, x2) || !bytes.Equal(y1, y2) {
			t.Fatalf("fft butterfly differs (logM %d, size %d)", logM, size)
		}
		ref.ifft(x1, y1, logM)
		fast.ifft(x2, y2, logM)
		if !bytes.Equal(x1, x2) || !bytes.Equal(y1, y2) {
			t.Fatalf("ifft butterfly differs (logM %d, size %d)", logM, size)
		}
		ref.mul(x1, logM)
		fast.mul(x2, logM)
		if !bytes.Equal(x1, x2) {
			t.Fatalf("mul differs (logM %d, size %d)", logM, size)
		}
	}
}

// TestFieldIdentities checks the tables: exp and log invert each other and multiplication
// distributes over addition.
func TestFieldIdentities(t *testing.T) {
	tab := fieldTables()
	for x := 1; x < order; x++ {
		if tab.exp[tab.log[x]] != uint16(x) {
			t.Fatalf("exp[log[%d]] = %d", x, tab.exp[tab.log[x]])
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10000; i++ {
		a, b := uint16(rng.Uint32()), uint16(rng.Uint32())
		m := uint16(rng.IntN(modulus))
		if tab.mulLog(a^b, m) != tab.mulLog(a, m)^tab.mulLog(b, m) {
			t.Fatalf("multiplication is not linear at %d, %d, %d", a, b, m)
		}
	}
}
