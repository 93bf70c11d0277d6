package quilt

import (
	"errors"
	"testing"
)

// TestSymbolSizeWalrusCases runs the known answers of Walrus's own test of its symbol size
// search (test_quilt_find_min_length in walrus-core's quilt_encoding.rs).
func TestSymbolSizeWalrusCases(t *testing.T) {
	cases := []struct {
		sizes                    []uint64
		cols, rows, maxIndexCols int
		want                     int
		err                      error
	}{
		{[]uint64{2, 1, 2, 1}, 3, 3, 1, 0, ErrTooManyPatches},
		{[]uint64{1000, 1, 1}, 4, 7, 2, 72, nil},
		{nil, 3, 1, 1, 0, ErrMalformed},
		{[]uint64{1}, 3, 2, 1, 4, nil},
		{[]uint64{115, 80, 4}, 17, 9, 3, 6, nil},
		{[]uint64{20, 20, 20}, 3, 5, 2, 4, nil},
		{[]uint64{5, 5, 5}, 5, 1, 1, 6, nil},
		{[]uint64{25, 35, 45}, 200, 1, 3, 10, nil},
		{[]uint64{10, 0, 0, 0}, 17, 9, 2, 2, nil},
		{[]uint64{416, 253, 258, 384, 492, 303, 276, 464, 143, 251, 388, 263, 515, 433, 505,
			385, 346, 69, 48, 495, 329, 450, 494, 104, 539, 245, 109, 317, 60}, 34, 16, 3, 32, nil},
	}
	for i, c := range cases {
		got, err := symbolSize(c.sizes, c.cols, c.rows, c.maxIndexCols)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("case %d: err %v, want %v", i+1, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("case %d: %d, %v; want %d", i+1, got, err, c.want)
		}
	}
}

// TestSymbolSizeIsMinimal checks the search against brute force: the result is the smallest
// even size for which everything fits with the index in at most maxIndexCols columns.
func TestSymbolSizeIsMinimal(t *testing.T) {
	x := uint64(12345)
	next := func(n uint64) uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x % n
	}
	for iter := 0; iter < 3000; iter++ {
		cols, rows := int(2+next(40)), int(1+next(20))
		items := 1 + int(next(uint64(cols)))
		sizes := make([]uint64, items)
		for i := range sizes {
			sizes[i] = next(3000)
		}
		sizes[0] += IndexPrefixSize
		maxIdx := int(1 + next(10))
		got, err := symbolSize(sizes, cols, rows, maxIdx)
		if err != nil {
			t.Fatalf("%v %d %d %d: %v", sizes, cols, rows, maxIdx, err)
		}
		want := 2
		for ; ; want += 2 {
			cs := uint64(want * rows)
			if fits(sizes, uint64(cols), cs) && ceilDiv(sizes[0], cs) <= uint64(maxIdx) {
				break
			}
		}
		if got != want {
			t.Fatalf("%v cols %d rows %d index<=%d: %d, brute force %d", sizes, cols, rows, maxIdx, got, want)
		}
	}
}
