package blob

import (
	"errors"
	"math/big"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

func TestRotationOffsetHandComputed(t *testing.T) {
	var first1, last7, v256, v1000 ID
	first1[0] = 1                     // 2^248 read big-endian; 1 read little-endian
	last7[31] = 7                     // 7
	v256[30] = 1                      // 256
	v1000[30], v1000[31] = 0x03, 0xe8 // 1000
	tests := []struct {
		name string
		id   ID
		n    int
		want int
	}{
		{"zero", ID{}, 1000, 0},
		{"7 mod 4", last7, 4, 3},
		{"7 mod 1000", last7, 1000, 7},
		{"256 mod 1000", v256, 1000, 256},
		{"256 mod 10", v256, 10, 6},
		{"1000 mod 1000", v1000, 1000, 0},
		{"1000 mod 7", v1000, 7, 6},
		// 2^248 mod 10: powers of two end in 2,4,8,6 with period 4 from 2^1; 248 = 4*62 -> 6.
		// Little-endian reading would give 1.
		{"2^248 mod 10", first1, 10, 6},
		// 2^3 = 1 mod 7, 248 = 3*82 + 2 -> 4.
		{"2^248 mod 7", first1, 7, 4},
		{"anything mod 1", first1, 1, 0},
	}
	for _, tc := range tests {
		if got := RotationOffset(tc.id, tc.n); got != tc.want {
			t.Errorf("%s: RotationOffset = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestShardPairMapping(t *testing.T) {
	var id ID
	id[31] = 7 // offset 7 mod 10
	const n = 10
	wantShard := []int{7, 8, 9, 0, 1, 2, 3, 4, 5, 6}
	for pair, want := range wantShard {
		if got := ShardIndex(id, n, pair); got != want {
			t.Errorf("ShardIndex(pair %d) = %d, want %d", pair, got, want)
		}
		if got := PairIndex(id, n, want); got != pair {
			t.Errorf("PairIndex(shard %d) = %d, want %d", want, got, pair)
		}
	}
	// Out-of-range inputs are reduced modulo n rather than producing negative indices.
	if got := ShardIndex(id, n, -1); got != 6 {
		t.Errorf("ShardIndex(-1) = %d, want 6", got)
	}
	if got := PairIndex(id, n, 13); got != 6 {
		t.Errorf("PairIndex(13) = %d, want 6", got)
	}
}

func TestRotationOffsetMatchesBigInt(t *testing.T) {
	var id ID
	for i := range id {
		id[i] = byte(i*37 + 11)
	}
	for _, n := range []int{1, 4, 7, 10, 100, 301, 1000, 4096, 65535} {
		for round := range 8 {
			id[round] ^= byte(n)
			want := new(big.Int).Mod(new(big.Int).SetBytes(id[:]), big.NewInt(int64(n))).Int64()
			if got := RotationOffset(id, n); int64(got) != want {
				t.Fatalf("n=%d id=%x: got %d, want %d", n, id, got, want)
			}
			for _, pair := range []int{0, n / 2, n - 1} {
				s := ShardIndex(id, n, pair)
				if s < 0 || s >= n || PairIndex(id, n, s) != pair {
					t.Fatalf("n=%d pair %d -> shard %d -> pair %d", n, pair, s, PairIndex(id, n, s))
				}
			}
		}
	}
}

func TestRotationOffsetPanicsOnZeroShards(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for nShards = 0")
		}
	}()
	RotationOffset(ID{}, 0)
}

func TestEncodedLength(t *testing.T) {
	tests := []struct {
		length uint64
		n      int
		want   uint64
	}{
		// Spec §2.7: a 17-byte blob on 1000 shards (s = 2).
		{17, 1000, 66_034_000},
		// Empty blob: s = 2 as well.
		{0, 1000, 66_034_000},
		// n = 10: K_p=4, K_s=7, s=2: 10 * (11*2 + 640 + 32) = 6940.
		{33, 10, 6940},
		// 57 bytes at n = 10 need s = 4: 10 * (11*4 + 672) = 7160.
		{57, 10, 7160},
	}
	for _, tc := range tests {
		got, err := EncodedLength(tc.length, tc.n)
		if err != nil || got != tc.want {
			t.Errorf("EncodedLength(%d, %d) = %d, %v; want %d", tc.length, tc.n, got, err, tc.want)
		}
	}
	if _, err := EncodedLength(1, 3); !errors.Is(err, redstuff.ErrShardCount) {
		t.Errorf("3 shards: err = %v", err)
	}
	if _, err := EncodedLength(4*7*65534+1, 10); !errors.Is(err, redstuff.ErrDataTooLarge) {
		t.Errorf("too large: err = %v", err)
	}
}
