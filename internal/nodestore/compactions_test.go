package nodestore

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// TestCompactionsWithoutTicker: a store whose small memtable flushes again and again files
// that overlap gets its level-0 files compacted (compactions are granted without Pebble's periodic granter,
// whose goroutine does not run), and everything written reads back.
func TestCompactionsWithoutTicker(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), &Options{Logger: testLogger(t), MemTableSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const blobs, shards = 40, 20
	for b := range blobs {
		for sh := range shards {
			if err := s.PutSliver(ctx, uint16(sh), blob.ID{byte(b)}, midSliver(sh, b)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Compactions run in the background: wait for one (a guard against a hang, far above
	// what it takes).
	for deadline := time.Now().Add(30 * time.Second); s.db.Metrics().Compact.Count == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no compaction after %d flushes; level 0 holds %d files", s.db.Metrics().Flush.Count, s.db.Metrics().Levels[0].TablesCount)
		}
	}
	buf := make([]byte, 1<<20)
	if st := string(buf[:runtime.Stack(buf, true)]); strings.Contains(st, "periodicGranter") {
		t.Fatal("Pebble's periodic compaction granter runs")
	}
	for b := range blobs {
		for sh := range shards {
			got, err := s.Sliver(ctx, uint16(sh), blob.ID{byte(b)}, redstuff.Primary)
			if err != nil || !sliverEqual(got, midSliver(sh, b)) {
				t.Fatalf("blob %d shard %d: %v", b, sh, err)
			}
		}
	}
}

// midSliver is a sliver of 8 KiB: every round of 20 shards spans the key space, so that
// each flushed file overlaps the others.
func midSliver(index, fill int) redstuff.Sliver {
	data := make([]byte, 8<<10)
	for i := range data {
		data[i] = byte(fill + i)
	}
	return redstuff.Sliver{Axis: redstuff.Primary, Index: index, SymbolSize: 64, Data: data}
}
