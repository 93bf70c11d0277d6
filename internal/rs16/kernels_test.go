package rs16

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

func randomBytes(rng *rand.Rand, n int, zeroEvery int) []byte {
	b := make([]byte, n)
	for i := range b {
		if zeroEvery == 0 || rng.IntN(zeroEvery) != 0 {
			b[i] = byte(rng.Uint32())
		}
	}
	return b
}

// fastKernels returns the kernel sets this CPU runs besides the generic one, which they are
// checked against.
func fastKernels(t *testing.T) (kernels, []kernels) {
	all := allKernels(fieldTables())
	if len(all) == 1 {
		t.Logf("only the generic kernels run on this CPU")
	}
	for _, k := range all {
		t.Logf("kernel set %s", k.name)
	}
	return all[0], all[1:]
}

// TestKernelsAgree checks every kernel set this CPU runs against the table-driven reference for
// random data and multipliers (zero elements, the logs 0 and 65535, and every combination of
// zero multipliers in the radix-4 butterflies included).
func TestKernelsAgree(t *testing.T) {
	ref, fast := fastKernels(t)
	for _, k := range fast {
		t.Run(k.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for iter := 0; iter < 400; iter++ {
				size := 64 * (1 + rng.IntN(40))
				x := randomBytes(rng, size, 0)
				y := randomBytes(rng, size, 8)
				logM := uint16(rng.IntN(modulus)) // never modulus: the butterflies' callers skip it
				switch iter {
				case 0:
					logM = 0
				case 1:
					logM = modulus - 1
				}
				x1, x2 := bytes.Clone(x), bytes.Clone(x)
				ref.mulAdd(x1, y, logM)
				k.mulAdd(x2, y, logM)
				if !bytes.Equal(x1, x2) {
					t.Fatalf("mulAdd differs (logM %d, size %d)", logM, size)
				}
				y1, y2 := bytes.Clone(y), bytes.Clone(y)
				ref.fft(x1, y1, logM)
				k.fft(x2, y2, logM)
				if !bytes.Equal(x1, x2) || !bytes.Equal(y1, y2) {
					t.Fatalf("fft butterfly differs (logM %d, size %d)", logM, size)
				}
				ref.ifft(x1, y1, logM)
				k.ifft(x2, y2, logM)
				if !bytes.Equal(x1, x2) || !bytes.Equal(y1, y2) {
					t.Fatalf("ifft butterfly differs (logM %d, size %d)", logM, size)
				}
				mulLog := logM
				if iter == 2 {
					mulLog = modulus // multiplication by exp(65535) = 1
				}
				ref.mul(x1, mulLog)
				k.mul(x2, mulLog)
				if !bytes.Equal(x1, x2) {
					t.Fatalf("mul differs (logM %d, size %d)", mulLog, size)
				}

				dist := 64 * (1 + rng.IntN(12))
				p := randomBytes(rng, 4*dist, 8)
				var logs [3]uint16
				for i := range logs {
					logs[i] = uint16(rng.IntN(modulus))
					if iter&(1<<i) != 0 && iter < 64 {
						logs[i] = modulus // zero multipliers, every combination
					}
				}
				p1, p2 := bytes.Clone(p), bytes.Clone(p)
				ref.fft4(p1, dist, logs[0], logs[1], logs[2])
				k.fft4(p2, dist, logs[0], logs[1], logs[2])
				if !bytes.Equal(p1, p2) {
					t.Fatalf("fft4 differs (logs %v, dist %d)", logs, dist)
				}
				ref.ifft4(p1, dist, logs[0], logs[1], logs[2])
				k.ifft4(p2, dist, logs[0], logs[1], logs[2])
				if !bytes.Equal(p1, p2) {
					t.Fatalf("ifft4 differs (logs %v, dist %d)", logs, dist)
				}
				if !bytes.Equal(p1, p) {
					t.Fatalf("ifft4 does not invert fft4 (logs %v, dist %d)", logs, dist)
				}
			}
		})
	}
}

// TestKernelsEveryMultiplier checks every table entry of every kernel set: multiplication is
// linear, so its products of the 16 unit vectors (plus 0, 0xffff and random elements) pin
// down the whole table of a multiplier.
func TestKernelsEveryMultiplier(t *testing.T) {
	ref, fast := fastKernels(t)
	rng := rand.New(rand.NewPCG(7, 8))
	var elems [64]uint16 // two blocks
	for j := 0; j < 16; j++ {
		elems[j] = 1 << j
	}
	elems[16], elems[17] = 0, 0xffff
	for i := 18; i < len(elems); i++ {
		elems[i] = uint16(rng.Uint32())
	}
	y := make([]byte, 128)
	for i, v := range elems {
		blk, e := i/32, i%32
		y[64*blk+e] = byte(v)
		y[64*blk+32+e] = byte(v >> 8)
	}
	x0 := randomBytes(rng, 128, 0)
	for _, k := range fast {
		t.Run(k.name, func(t *testing.T) {
			x1, x2 := make([]byte, 128), make([]byte, 128)
			for logM := 0; logM < order; logM++ {
				copy(x1, x0)
				copy(x2, x0)
				ref.mulAdd(x1, y, uint16(logM))
				k.mulAdd(x2, y, uint16(logM))
				if !bytes.Equal(x1, x2) {
					t.Fatalf("mulAdd differs at logM %d", logM)
				}
				copy(x1, y)
				copy(x2, y)
				ref.mul(x1, uint16(logM))
				k.mul(x2, uint16(logM))
				if !bytes.Equal(x1, x2) {
					t.Fatalf("mul differs at logM %d", logM)
				}
			}
		})
	}
}

// fftRadix2 and ifftRadix2 are the transforms one layer at a time, as reed-solomon-simd's
// reference engine runs them: the reference for the fused radix-4 transforms.
func (e *engine) fftRadix2(d workArea, pos, size, truncated, skewDelta int) {
	for dist := size / 2; dist > 0; dist /= 2 {
		for r := 0; r < truncated; r += 2 * dist {
			e.fft2(d.span(pos+r, dist), d.span(pos+r+dist, dist), e.t.skew[r+dist+skewDelta-1])
		}
	}
}

func (e *engine) ifftRadix2(d workArea, pos, size, truncated, skewDelta int) {
	for dist := 1; dist < size; dist *= 2 {
		for r := 0; r < truncated; r += 2 * dist {
			e.ifft2(d.span(pos+r, dist), d.span(pos+r+dist, dist), e.t.skew[r+dist+skewDelta-1])
		}
	}
}

// TestTransformsMatchRadix2 checks the fused transforms of every kernel set against the
// layer-by-layer ones on the generic kernels, for every size up to 1024 (128 with the race
// detector on), truncations (the
// shards past a truncation are zero, as the codes leave them) and skew offsets.
func TestTransformsMatchRadix2(t *testing.T) {
	tab := fieldTables()
	ref := engine{t: tab, k: genericKernels(tab)}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, k := range allKernels(tab) {
		e := engine{t: tab, k: k}
		maxSize := 1024
		if raceEnabled {
			maxSize = 128 // larger sizes are checked without the race detector (.ci/run)
		}
		for size := 1; size <= maxSize; size *= 2 {
			for _, trunc := range []int{size, size / 2, size/2 + 1, size - 1, 1, 1 + rng.IntN(size), 1 + rng.IntN(size)} {
				if trunc <= 0 || trunc > size {
					continue
				}
				for _, delta := range []int{0, size, 3 * size} {
					name := fmt.Sprintf("%s/size=%d/trunc=%d/delta=%d", k.name, size, trunc, delta)
					const sz = 128
					buf := randomBytes(rng, size*sz, 0)
					clear(buf[trunc*sz:])
					a := workArea{buf: bytes.Clone(buf), size: sz}
					b := workArea{buf: bytes.Clone(buf), size: sz}
					ref.ifftRadix2(a, 0, size, trunc, delta)
					e.ifft(b, 0, size, trunc, delta)
					if !bytes.Equal(a.buf, b.buf) {
						t.Fatalf("%s: ifft differs", name)
					}
					a.buf = bytes.Clone(buf)
					b.buf = bytes.Clone(buf)
					ref.fftRadix2(a, 0, size, trunc, delta)
					e.fft(b, 0, size, trunc, delta)
					// Shards past the truncation are not outputs.
					if !bytes.Equal(a.buf[:trunc*sz], b.buf[:trunc*sz]) {
						t.Fatalf("%s: fft differs", name)
					}
				}
			}
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

// TestOnePlusLog checks x ^ x*exp(m) = x * exp(onePlusLog(m)) for every multiplier log m.
func TestOnePlusLog(t *testing.T) {
	tab := fieldTables()
	rng := rand.New(rand.NewPCG(5, 6))
	for m := 0; m < modulus; m++ {
		x := uint16(1 + rng.IntN(modulus))
		want := x ^ tab.mulLog(x, uint16(m))
		l, ok := tab.onePlusLog(uint16(m))
		if !ok {
			if want != 0 {
				t.Fatalf("m=%d: onePlusLog says 1 + exp(m) = 0, but x ^ x*exp(m) = %d", m, want)
			}
			continue
		}
		if got := tab.mulLog(x, l); got != want {
			t.Fatalf("m=%d, x=%d: x*exp(onePlusLog) = %d, want %d", m, x, got, want)
		}
	}
}
