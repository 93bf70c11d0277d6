package rs16

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestRateChoice follows reed-solomon-simd's DefaultRate rule on the shapes RedStuff uses.
func TestRateChoice(t *testing.T) {
	for _, tc := range []struct {
		k, m int
		high bool
	}{
		{334, 666, false}, // n = 1000 primary code
		{667, 333, true},  // n = 1000 secondary code
		{4, 6, false},     // n = 10 primary
		{7, 3, true},      // n = 10 secondary
		{4, 4, true},      // equal powers, k <= m
		{5, 3, true},      // next_pow2(k) = 8 > next_pow2(m) = 4
		{6, 5, false},     // equal powers (8, 8), k > m
	} {
		got, err := UseHighRate(tc.k, tc.m)
		if err != nil || got != tc.high {
			t.Errorf("UseHighRate(%d, %d) = %v, %v; want %v", tc.k, tc.m, got, err, tc.high)
		}
	}
	if _, err := UseHighRate(40000, 40000); !errors.Is(err, ErrUnsupported) {
		t.Errorf("40000+40000: %v", err)
	}
	if _, err := New(0, 3); !errors.Is(err, ErrUnsupported) {
		t.Errorf("k = 0: %v", err)
	}
}

func randomShards(rng *rand.Rand, count, size int) [][]byte {
	out := make([][]byte, count)
	for i := range out {
		out[i] = make([]byte, size)
		for j := range out[i] {
			out[i][j] = byte(rng.Uint32())
		}
	}
	return out
}

// TestRoundTrip encodes random data with both rates and every kernel set, checks that the
// kernel sets agree, and decodes from random sets of k shards.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ k, m, size int }{
		{1, 1, 64}, {2, 3, 128}, {3, 2, 64}, {4, 6, 192}, {7, 3, 64}, {16, 16, 64},
		{33, 67, 128}, {67, 33, 64}, {100, 200, 64}, {334, 666, 64}, {667, 333, 128},
		{5, 1000, 64}, {1000, 5, 64}, {2000, 3000, 64},
		// Last chunks of at most half the chunk size with an odd number of layers (halfTail),
		// at and below the boundary, both rates.
		{9, 2, 64}, {10, 7, 64}, {12, 7, 128}, {13, 7, 64}, {5, 10, 64}, {7, 12, 128}, {100, 129, 64}, {1100, 600, 64},
	} {
		if raceEnabled && tc.k+tc.m > 1000 {
			continue // checked without the race detector (.ci/run)
		}
		orig := randomShards(rng, tc.k, tc.size)
		var first [][]byte // recovery shards of the first (generic) kernel set
		for _, ks := range KernelSets() {
			t.Run(fmt.Sprintf("%s/k=%d/m=%d", ks, tc.k, tc.m), func(t *testing.T) {
				c, err := NewWithKernels(tc.k, tc.m, ks)
				if err != nil {
					t.Fatal(err)
				}
				rec := randomShards(rng, tc.m, tc.size)
				if err := c.Encode(orig, rec); err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = rec
				}
				for r := range rec {
					if !bytes.Equal(rec[r], first[r]) {
						t.Fatalf("recovery %d differs from the generic kernels'", r)
					}
				}
				roundTrip(t, rng, c, orig, rec, tc.size)
			})
		}
	}
}

func roundTrip(t *testing.T, rng *rand.Rand, c *Code, orig, rec [][]byte, size int) {
	t.Helper()
	tc := struct{ k, m, size int }{c.K(), c.M(), size}
	// EncodeWork agrees with Encode.
	w, err := c.NewEncodeWork(tc.size)
	if err != nil {
		t.Fatal(err)
	}
	// Twice: over an area of random bytes (Encode must not rely on slots beyond the
	// originals being zero), then over what the first Encode left.
	for i := range w.area.buf {
		w.area.buf[i] = byte(rng.Uint32())
	}
	for pass := 0; pass < 2; pass++ {
		for i := range orig {
			copy(w.Original(i), orig[i])
		}
		w.Encode()
		for r := range rec {
			if !bytes.Equal(w.Recovery(r), rec[r]) {
				t.Fatalf("pass %d: EncodeWork recovery %d differs", pass, r)
			}
		}
	}
	// EncodeFunc agrees with Encode, asks for every original once and in order, and hands
	// over every recovery shard once, in order, already final.
	for i := range w.area.buf {
		w.area.buf[i] = byte(rng.Uint32())
	}
	for pass := 0; pass < 2; pass++ {
		filled, handed := 0, 0
		early := make([][]byte, tc.m) // recovery shards as done saw them
		w.EncodeFunc(func(lo, hi int) {
			if lo != filled || hi <= lo || hi > tc.k {
				t.Fatalf("pass %d: fill(%d, %d) after %d originals", pass, lo, hi, filled)
			}
			for i := lo; i < hi; i++ {
				copy(w.Original(i), orig[i])
			}
			filled = hi
		}, func(lo, hi int) {
			if lo != handed || hi <= lo || hi > tc.m {
				t.Fatalf("pass %d: done(%d, %d) after %d recovery shards", pass, lo, hi, handed)
			}
			for r := lo; r < hi; r++ {
				early[r] = bytes.Clone(w.Recovery(r))
			}
			handed = hi
		})
		if filled != tc.k || handed != tc.m {
			t.Fatalf("pass %d: %d originals filled, %d recovery shards handed over", pass, filled, handed)
		}
		for r := range rec {
			if !bytes.Equal(early[r], rec[r]) || !bytes.Equal(w.Recovery(r), rec[r]) {
				t.Fatalf("pass %d: EncodeFunc recovery %d differs", pass, r)
			}
		}
	}
	all := append(append([][]byte{}, orig...), rec...)
	for trial := 0; trial < 5; trial++ {
		shards := make([][]byte, tc.k+tc.m)
		present := make([]bool, tc.k+tc.m)
		for _, i := range rng.Perm(tc.k + tc.m)[:tc.k] {
			present[i] = true
		}
		for i := range shards {
			switch {
			case present[i]:
				shards[i] = bytes.Clone(all[i])
			case i < tc.k:
				shards[i] = make([]byte, tc.size)
			}
		}
		if err := c.Decode(shards, present); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < tc.k; i++ {
			if !bytes.Equal(shards[i], orig[i]) {
				t.Fatalf("trial %d: original %d not restored", trial, i)
			}
		}
		// One shard fewer is refused.
		for i := range present {
			if present[i] {
				present[i] = false
				break
			}
		}
		if err := c.Decode(shards, present); !errors.Is(err, ErrTooFewShards) {
			t.Fatalf("decode with k-1 shards: %v", err)
		}
	}
}

func TestBadShards(t *testing.T) {
	c, err := New(3, 2)
	if err != nil {
		t.Fatal(err)
	}
	good := func() [][]byte { return randomShards(rand.New(rand.NewPCG(1, 1)), 3, 64) }
	if err := c.Encode(good(), [][]byte{make([]byte, 64)}); !errors.Is(err, ErrShardCount) {
		t.Errorf("wrong recovery count: %v", err)
	}
	if err := c.Encode(good(), [][]byte{make([]byte, 64), make([]byte, 128)}); !errors.Is(err, ErrShardSize) {
		t.Errorf("mixed sizes: %v", err)
	}
	if err := c.Encode([][]byte{make([]byte, 10), make([]byte, 10), make([]byte, 10)}, [][]byte{make([]byte, 10), make([]byte, 10)}); !errors.Is(err, ErrShardSize) {
		t.Errorf("size not a multiple of 64: %v", err)
	}
	sh := append(good(), nil, nil)
	if err := c.Decode(sh, []bool{true, true, true, true, false}); !errors.Is(err, ErrShardSize) {
		t.Errorf("present but nil: %v", err)
	}
	if _, err := c.NewEncodeWork(100); !errors.Is(err, ErrShardSize) {
		t.Errorf("work size 100: %v", err)
	}
	if _, err := c.NewEncodeWorkIn(64, make([]byte, c.EncodeWorkBytes(64)-1)); !errors.Is(err, ErrShardSize) {
		t.Errorf("work area one byte short: %v", err)
	}
	// An area in the caller's memory (longer than needed) encodes as one of its own.
	own, err := c.NewEncodeWork(64)
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.NewEncodeWorkIn(64, make([]byte, c.EncodeWorkBytes(64)+100))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*EncodeWork{own, in} {
		for i := range 3 {
			for j := range w.Original(i) {
				w.Original(i)[j] = byte(i*64 + j)
			}
		}
		w.Encode()
	}
	for r := range 2 {
		if !bytes.Equal(own.Recovery(r), in.Recovery(r)) {
			t.Errorf("recovery shard %d differs in the caller's area", r)
		}
	}
}

// TestLayout checks ToWork/FromWork: full blocks stay as they are, a tail of t bytes puts t/2
// low bytes then t/2 high bytes into the halves of a padded block.
func TestLayout(t *testing.T) {
	src := []byte{1, 2, 3, 4, 5, 6}
	dst := make([]byte, 64)
	ToWork(dst, src, 6)
	want := make([]byte, 64)
	copy(want[0:], []byte{1, 2, 3})
	copy(want[32:], []byte{4, 5, 6})
	if !bytes.Equal(dst, want) {
		t.Fatalf("ToWork tail layout: %v", dst)
	}
	for _, s := range []int{2, 62, 64, 66, 130, 1206} {
		raw := randomShards(rand.New(rand.NewPCG(uint64(s), 0)), 1, 3*s)[0]
		w := make([]byte, 3*WorkSize(s))
		ToWork(w, raw, s)
		back := make([]byte, 3*s)
		FromWork(back, w, s)
		if !bytes.Equal(back, raw) {
			t.Fatalf("s=%d: layout round trip differs", s)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, ks := range allKernels(fieldTables()) {
		for _, tc := range []struct{ k, m int }{{334, 666}, {667, 333}} {
			b.Run(fmt.Sprintf("%s/k=%d/m=%d", ks.name, tc.k, tc.m), func(b *testing.B) {
				c, err := New(tc.k, tc.m)
				if err != nil {
					b.Fatal(err)
				}
				c.eng.k = ks
				const size = 1216
				w, err := c.NewEncodeWork(size)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(tc.k * size))
				start := cpuTime()
				for b.Loop() {
					w.Encode()
				}
				reportCPU(b, start)
			})
		}
	}
}
