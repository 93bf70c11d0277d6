package crc32c

import (
	"fmt"
	"hash/crc32"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// bothPaths runs f with the folding path (if this CPU has it) and with hash/crc32 alone.
func bothPaths(t testing.TB, f func(t testing.TB)) {
	t.Helper()
	saved := useFold
	defer func() { useFold = saved }()
	for _, fold := range []bool{true, false} {
		if fold && !saved {
			continue
		}
		useFold = fold
		f(t)
	}
}

func want(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestFoldAvailable(t *testing.T) {
	t.Logf("useFold = %v", useFold)
}

// TestChecksumLengths checks every length up to 4096 at several alignments.
func TestChecksumLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := randomBytes(r, 4096+64)
	bothPaths(t, func(t testing.TB) {
		for _, align := range []int{0, 1, 3, 8, 17, 63} {
			for n := 0; n+align <= len(buf) && n <= 4096; n++ {
				b := buf[align : align+n]
				if got, w := Checksum(b), want(b); got != w {
					t.Fatalf("fold %v: Checksum(%d bytes at +%d) = %#08x, want %#08x", useFold, n, align, got, w)
				}
			}
		}
	})
}

// TestChecksumBoundaries checks lengths about the amd64 code's thresholds and superblocks
// (3200 bytes, from 3456 on).
func TestChecksumBoundaries(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	buf := randomBytes(r, 5*3200+1024)
	bothPaths(t, func(t testing.TB) {
		for k := range 6 {
			for _, d := range []int{-129, -65, -64, -63, -1, 0, 1, 63, 64, 65, 255, 256, 257} {
				n := k*3200 + 256 + d
				if n < 0 {
					continue
				}
				for _, align := range []int{0, 5} {
					b := buf[align : align+n]
					if got, w := Checksum(b), want(b); got != w {
						t.Fatalf("fold %v: Checksum(%d bytes at +%d) = %#08x, want %#08x", useFold, n, align, got, w)
					}
				}
			}
		}
	})
}

// TestChecksumPatterns checks inputs of all zeros, all ones and single set bits, where a wrong
// constant or lane order could cancel out less often than with random bytes... or more.
func TestChecksumPatterns(t *testing.T) {
	bothPaths(t, func(t testing.TB) {
		for _, n := range []int{64, 256, 512, 576, 1024, 4096, 4160} {
			zeros := make([]byte, n)
			ones := make([]byte, n)
			for i := range ones {
				ones[i] = 0xff
			}
			for _, b := range [][]byte{zeros, ones} {
				if got, w := Checksum(b), want(b); got != w {
					t.Fatalf("fold %v: %d bytes of %#02x: got %#08x, want %#08x", useFold, n, b[0], got, w)
				}
			}
			for bit := 0; bit < 8*n; bit += 7 {
				zeros[bit/8] = 1 << (bit % 8)
				if got, w := Checksum(zeros), want(zeros); got != w {
					t.Fatalf("fold %v: %d bytes, bit %d set: got %#08x, want %#08x", useFold, n, bit, got, w)
				}
				zeros[bit/8] = 0
			}
		}
	})
}

func TestChecksumLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{600 << 10, 1 << 20, 8<<20 + 13} {
		b := randomBytes(r, n+1)
		bothPaths(t, func(t testing.TB) {
			for _, align := range []int{0, 1} {
				p := b[align : align+n]
				if got, w := Checksum(p), want(p); got != w {
					t.Fatalf("fold %v: Checksum(%d bytes at +%d) = %#08x, want %#08x", useFold, n, align, got, w)
				}
			}
		})
	}
}

// TestUpdateSplits checks Update chained over arbitrary split points, starting from arbitrary
// registers.
func TestUpdateSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	b := randomBytes(r, 20000)
	bothPaths(t, func(t testing.TB) {
		for range 2000 {
			n := r.IntN(len(b) + 1)
			p := b[:n]
			i := r.IntN(n + 1)
			j := i + r.IntN(n-i+1)
			crc := Update(0, p[:i])
			crc = Update(crc, p[i:j])
			crc = Update(crc, p[j:])
			if w := want(p); crc != w {
				t.Fatalf("fold %v: %d bytes split at %d, %d: got %#08x, want %#08x", useFold, n, i, j, crc, w)
			}
			start := r.Uint32()
			if got, w := Update(start, p), crc32.Update(start, table, p); got != w {
				t.Fatalf("fold %v: Update(%#08x, %d bytes) = %#08x, want %#08x", useFold, start, n, got, w)
			}
		}
	})
}

// xPowMod returns x^n mod P, P the CRC-32C polynomial, as bits (bit i the coefficient of x^i).
func xPowMod(n int) uint32 {
	const p = 0x1EDC6F41 // P minus x^32
	r := uint64(1)
	for range n {
		r <<= 1
		if r&(1<<32) != 0 {
			r ^= 1<<32 | p
		}
	}
	return uint32(r)
}

// TestXPowMod checks xPowMod, which TestFoldConstants computes the constants with, against
// hash/crc32: from a zero register, the CRC of one byte 0x80 (a 1 as the byte's last bit)
// and k zero bytes is x^(8k) * x^32 mod P, bit-reflected.
func TestXPowMod(t *testing.T) {
	if got := bits.Reverse32(0x1EDC6F41); got != crc32.Castagnoli {
		t.Fatalf("reflected polynomial %#08x, hash/crc32's %#08x", got, uint32(crc32.Castagnoli))
	}
	for k := range 600 {
		msg := make([]byte, 1+k)
		msg[0] = 0x80
		got := ^crc32.Update(^uint32(0), table, msg)
		if w := bits.Reverse32(xPowMod(8*k + 32)); got != w {
			t.Fatalf("x^%d mod P: CRC %#08x, xPowMod %#08x", 8*k+32, got, w)
		}
	}
}

func FuzzChecksum(f *testing.F) {
	for _, n := range []int{0, 1, 63, 64, 255, 256, 511, 512, 513, 1024, 3456, 4097, 6913} {
		f.Add(make([]byte, n), uint32(n))
	}
	f.Fuzz(func(t *testing.T, b []byte, start uint32) {
		bothPaths(t, func(t testing.TB) {
			if got, w := Checksum(b), want(b); got != w {
				t.Fatalf("fold %v: Checksum(%d bytes) = %#08x, want %#08x", useFold, len(b), got, w)
			}
			if got, w := Update(start, b), crc32.Update(start, table, b); got != w {
				t.Fatalf("fold %v: Update(%#08x, %d bytes) = %#08x, want %#08x", useFold, start, len(b), got, w)
			}
		})
	})
}

func BenchmarkChecksum(b *testing.B) {
	for _, n := range []int{256, 384, 512, 1 << 10, 4 << 10, 64 << 10, 600 << 10, 16 << 20} {
		buf := randomBytes(rand.New(rand.NewPCG(7, 8)), n)
		name := fmt.Sprintf("%dB", n)
		switch {
		case n >= 1<<20:
			name = fmt.Sprintf("%dMiB", n>>20)
		case n >= 1<<10:
			name = fmt.Sprintf("%dKiB", n>>10)
		}
		b.Run(name+"/stdlib", func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				crc32.Checksum(buf, table)
			}
		})
		b.Run(name+"/crc32c", func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				Checksum(buf)
			}
		})
	}
}
