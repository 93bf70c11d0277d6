package redstuff_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/floelabs/floe/redstuff"
)

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

// BenchmarkCommit measures computing the metadata (what a blob ID needs).
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1000, 100} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("n=%d/size=%dMiB", n, size>>20), func(b *testing.B) {
				enc, err := redstuff.New(n)
				if err != nil {
					b.Fatal(err)
				}
				data := randomBlob(size, 1)
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := enc.Commit(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkEncode measures encoding into all slivers plus metadata.
func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{1000, 100} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("n=%d/size=%dMiB", n, size>>20), func(b *testing.B) {
				enc, err := redstuff.New(n)
				if err != nil {
					b.Fatal(err)
				}
				data := randomBlob(size, 1)
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := enc.Encode(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
