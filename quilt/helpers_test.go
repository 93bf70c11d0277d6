package quilt_test

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
)

// genData is the vectors' PRNG "sha256ctr-v1": SHA-256(u64le(seed) || u64le(i)) blocks.
func genData(seed uint64, n int) []byte {
	out := make([]byte, 0, n+32)
	var in [16]byte
	binary.LittleEndian.PutUint64(in[:8], seed)
	for i := uint64(0); len(out) < n; i++ {
		binary.LittleEndian.PutUint64(in[8:], i)
		sum := sha256.Sum256(in[:])
		out = append(out, sum[:]...)
	}
	return out[:n]
}

func tagsEqual(a, b map[string]string) bool { return len(a) == len(b) && maps.Equal(a, b) }
