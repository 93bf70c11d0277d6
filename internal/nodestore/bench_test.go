package nodestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

var benchSizes = []int{64 << 10, 1 << 20}

func benchSliver(size int) redstuff.Sliver {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	return redstuff.Sliver{Axis: redstuff.Primary, Index: 1, SymbolSize: 1024, Data: data}
}

func benchID(i int) blob.ID {
	var x blob.ID
	binary.BigEndian.PutUint64(x[:], uint64(i))
	return x
}

// openBench opens a store on a temporary directory of the real disk, so that the synced
// writes pay for fsync.
func openBench(b *testing.B) *Store {
	s, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkPutSliver: one synced sliver write at a time (the latency a single upload sees).
func BenchmarkPutSliver(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			ctx := context.Background()
			s := openBench(b)
			sl := benchSliver(size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := s.PutSliver(ctx, uint16(i%16), benchID(i), sl); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutSliverParallel: concurrent synced writes, which Pebble commits in groups (what
// a node receiving many uploads sees).
func BenchmarkPutSliverParallel(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			ctx := context.Background()
			s := openBench(b)
			sl := benchSliver(size)
			b.SetBytes(int64(size))
			b.SetParallelism(4)
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1))
					if err := s.PutSliver(ctx, uint16(i%16), benchID(i), sl); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGetSliver reads slivers back (from the block cache or the OS page cache once
// warm), returning the stored BCS bytes as a sliver GET does.
func BenchmarkGetSliver(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			ctx := context.Background()
			s := openBench(b)
			sl := benchSliver(size)
			const n = 64
			batch := s.NewBatch()
			for i := 0; i < n; i++ {
				if err := batch.PutSliver(uint16(i%16), benchID(i), sl); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Commit(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch.Close()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				v, err := s.SliverData(ctx, uint16(i%n%16), benchID(i%n), redstuff.Primary)
				if err != nil || len(v) < size {
					b.Fatal(err)
				}
			}
		})
	}
}
