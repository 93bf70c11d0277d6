package redstuff_test

import (
	"runtime"
	"sync"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// BenchmarkLeafHashFloor is the reference the issue measures blob-id against: the time
// golang.org/x/crypto/blake2b needs, on all cores, to hash the 2*n*n leaves (0x00 || symbol)
// of the expanded matrix of a 256 MiB blob at n = 1000 (symbol size 1206). redstuff hashes each
// distinct symbol once (the row and column trees share their leaves), so it needs half of this.
func BenchmarkLeafHashFloor(b *testing.B) {
	const n, s = 1000, 1206
	leaves := 2 * n * n
	src := randomBlob(64<<20, 7)
	workers := runtime.GOMAXPROCS(0)
	b.SetBytes(256 << 20)
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				buf := make([]byte, s+1)
				for l := w; l < leaves; l += workers {
					off := (l * s) % (len(src) - s)
					copy(buf[1:], src[off:off+s])
					_ = blake2b.Sum256(buf)
				}
			}(w)
		}
		wg.Wait()
	}
}
