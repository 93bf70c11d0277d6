package nodestore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// testShards is the number of shards of the test encodings.
const testShards = 10

// testLogger logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// openMem opens a store on a fresh in-memory file system and closes it at the end of the test.
func openMem(t testing.TB) *Store {
	t.Helper()
	s, err := Open("db", &Options{FS: vfs.NewMem(), Logger: testLogger(t), CacheSize: 8 << 20})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testBlob is one encoded blob.
type testBlob struct {
	enc  *redstuff.Encoding
	meta *blob.MetadataWithID
}

// encodeBlob encodes size pseudo-random bytes (seeded) on testShards shards.
func encodeBlob(t testing.TB, e *redstuff.Encoder, seed uint64, size int) testBlob {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 42))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	enc, err := e.Encode(data)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return testBlob{enc: enc, meta: blob.NewMetadata(&enc.Commitment)}
}

func newEncoder(t testing.TB) *redstuff.Encoder {
	t.Helper()
	e, err := redstuff.New(testShards)
	if err != nil {
		t.Fatalf("redstuff.New: %v", err)
	}
	return e
}

// pair returns the sliver pair that shard holds of b.
func (b testBlob) pair(shard int) (primary, secondary redstuff.Sliver) {
	return b.enc.Pair(blob.PairIndex(b.meta.ID, testShards, shard))
}

// storeAll stores b's metadata and the pairs of the given shards in one batch.
func storeAll(t testing.TB, s *Store, b testBlob, shards ...uint16) {
	t.Helper()
	batch := s.NewBatch()
	defer batch.Close()
	if err := batch.PutMetadata(b.meta); err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		p, q := b.pair(int(sh))
		if err := batch.PutSliver(sh, b.meta.ID, p); err != nil {
			t.Fatal(err)
		}
		if err := batch.PutSliver(sh, b.meta.ID, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(context.Background(), batch); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// id returns a blob ID whose first byte is b (others zero): IDs that sort by b.
func id(b byte) blob.ID {
	var x blob.ID
	x[0] = b
	return x
}

// sliverEqual reports whether two slivers are identical.
func sliverEqual(a, b redstuff.Sliver) bool {
	return a.Axis == b.Axis && a.Index == b.Index && a.SymbolSize == b.SymbolSize && bytes.Equal(a.Data, b.Data)
}

// smallSliver returns a valid sliver of two 2-byte symbols.
func smallSliver(a redstuff.Axis, index int, fill byte) redstuff.Sliver {
	return redstuff.Sliver{Axis: a, Index: index, SymbolSize: 2, Data: []byte{fill, fill, fill, fill + 1}}
}
