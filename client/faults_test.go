package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/storagenode/byzantine"
)

// TestNodesDown stores with the nodes holding f shards stopped, then reads with the nodes
// holding 2f shards (two thirds, leaving exactly K_p) stopped.
func TestNodesDown(t *testing.T) {
	tn := newNetwork(t, netOptions{Shards: testShards, Stakes: testStakes})
	if tn.Nodes[0].Shards != 13 || tn.Nodes[1].Shards != 13 {
		t.Fatalf("nodes 0 and 1 hold %d and %d shards, want 13 each", tn.Nodes[0].Shards, tn.Nodes[1].Shards)
	}
	c := newClient(t, tn)
	ctx := ctxFor(t)
	base := newSeed()
	a := testData(300_000, base+1)
	resA, err := c.StoreBytes(ctx, a, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}

	tn.Nodes[0].Stop() // f = 13 shards
	b := testData(200_000, base+2)
	resB, err := c.StoreBytes(ctx, b, client.StoreOptions{Permanent: true})
	if err != nil {
		t.Fatalf("store with f shards down: %v", err)
	}
	if resB.Confirmations != testShards-13 {
		t.Fatalf("certificate weight %d, want %d", resB.Confirmations, testShards-13)
	}

	tn.Nodes[1].Stop() // 2f = 26 shards down, K_p = 14 up
	for _, blob := range []struct {
		res  *client.StoreResult
		data []byte
	}{{resA, a}, {resB, b}} {
		var buf bytes.Buffer
		if _, err := c.Read(ctx, blob.res.BlobID, &buf); err != nil {
			t.Fatalf("read with 2f shards down: %v", err)
		}
		if !bytes.Equal(buf.Bytes(), blob.data) {
			t.Fatal("read with 2f shards down: wrong bytes")
		}
		// A range in the middle: its systematic slivers may be on the stopped nodes, in which
		// case the read falls back to the whole blob.
		buf.Reset()
		if err := c.ReadRange(ctx, blob.res.BlobID, 1000, 150_000, &buf); err != nil {
			t.Fatalf("range read with 2f shards down: %v", err)
		}
		if !bytes.Equal(buf.Bytes(), blob.data[1000:151_000]) {
			t.Fatal("range read with 2f shards down: wrong bytes")
		}
	}
	// A client that spills every degraded read to a temporary file reads the same bytes
	// under each consistency check, and leaves no file behind.
	tmp := t.TempDir()
	sc := newClientWith(t, tn, func(cfg *client.Config) { cfg.SpillAbove, cfg.TempDir = 1, tmp })
	for _, check := range []client.ConsistencyCheck{client.ConsistencyDefault, client.ConsistencyStrict, client.ConsistencySkip} {
		for _, blob := range []struct {
			res  *client.StoreResult
			data []byte
		}{{resA, a}, {resB, b}} {
			var buf bytes.Buffer
			if _, err := sc.Read(ctx, blob.res.BlobID, &buf, client.ReadOptions{Consistency: check}); err != nil {
				t.Fatalf("spilled read with 2f shards down, check %d: %v", check, err)
			}
			if !bytes.Equal(buf.Bytes(), blob.data) {
				t.Fatalf("spilled read with 2f shards down, check %d: wrong bytes", check)
			}
			buf.Reset()
			if err := sc.ReadRange(ctx, blob.res.BlobID, 1000, 150_000, &buf, client.ReadOptions{Consistency: check}); err != nil {
				t.Fatalf("spilled range read with 2f shards down: %v", err)
			}
			if !bytes.Equal(buf.Bytes(), blob.data[1000:151_000]) {
				t.Fatal("spilled range read with 2f shards down: wrong bytes")
			}
		}
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Fatalf("spilled reads left %d files behind (%v)", len(left), err)
	}

	// A store cannot succeed with 2f shards down.
	if _, err := c.StoreBytes(ctx, testData(1000, base+3), client.StoreOptions{}); !errors.Is(err, client.ErrNotEnoughConfirmations) {
		t.Fatalf("store with 2f shards down: %v, want ErrNotEnoughConfirmations", err)
	}

	// The nodes come back and serve again.
	if err := tn.Nodes[0].Start(); err != nil {
		t.Fatal(err)
	}
	if err := tn.Nodes[1].Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StoreBytes(ctx, testData(1000, base+4), client.StoreOptions{}); err != nil {
		t.Fatalf("store after the nodes restarted: %v", err)
	}
}

// TestReadStreamsPastLiars reads blobs whose systematic slivers are partly on a node that
// serves corrupted slivers: the stream notices the first bad row, falls back to decoding from
// the honest nodes and still writes exactly the blob, whole and in ranges.
func TestReadStreamsPastLiars(t *testing.T) {
	tn := newNetwork(t, netOptions{Shards: testShards, Stakes: testStakes})
	c := newClient(t, tn)
	ctx := ctxFor(t)
	data := testData(500_000, newSeed())
	res, err := c.StoreBytes(ctx, data, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tn.Nodes[0].Stop()
	if err := tn.Nodes[0].StartByzantine(byzantine.CorruptSlivers); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if n, err := c.Read(ctx, res.BlobID, &buf); err != nil || n != int64(len(data)) {
		t.Fatalf("read past a lying node: %d bytes, %v", n, err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatal("read past a lying node: wrong bytes")
	}
	for _, r := range [][2]uint64{{0, 1}, {12_345, 200_000}, {uint64(len(data)) - 7, 7}} {
		buf.Reset()
		if err := c.ReadRange(ctx, res.BlobID, r[0], r[1], &buf); err != nil {
			t.Fatalf("range %v past a lying node: %v", r, err)
		}
		if !bytes.Equal(buf.Bytes(), data[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v past a lying node: wrong bytes", r)
		}
	}
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct {
	limit, n int
}

var errWriterFull = errors.New("writer full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		k := w.limit - w.n
		w.n = w.limit
		return k, errWriterFull
	}
	w.n += len(p)
	return len(p), nil
}

// TestReadWriterFails: a writer that fails in the middle of a streamed read ends the read
// with its error and the count of bytes it took; the client reads normally afterwards.
func TestReadWriterFails(t *testing.T) {
	tn := newNetwork(t, netOptions{Shards: testShards, Stakes: testStakes})
	c := newClient(t, tn)
	ctx := ctxFor(t)
	data := testData(400_000, newSeed())
	res, err := c.StoreBytes(ctx, data, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := &failingWriter{limit: 100_000}
	n, err := c.Read(ctx, res.BlobID, w)
	if !errors.Is(err, errWriterFull) || n != 100_000 {
		t.Fatalf("read into a failing writer: %d bytes, %v", n, err)
	}
	got, err := c.ReadBytes(ctx, res.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after a failed one: %v", err)
	}
}

// TestReadPastStalledNode reads blobs while a node holding some of their systematic slivers
// accepts requests and never answers: the streamed read gives up on it after the stall
// timeout and decodes from the nodes that answer, whole and in ranges; so does a read that
// must decode from the start because another node is down.
func TestReadPastStalledNode(t *testing.T) {
	tn := newNetwork(t, netOptions{Shards: testShards, Stakes: testStakes})
	c := newClientWith(t, tn, func(cfg *client.Config) {
		cfg.Communication.ReadStallTimeout = 200 * time.Millisecond
	})
	ctx := ctxFor(t)
	data := testData(600_000, newSeed())
	res, err := c.StoreBytes(ctx, data, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tn.Nodes[0].Stop()
	if err := tn.Nodes[0].StartByzantine(byzantine.StallSlivers); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		got, err := c.ReadBytes(ctx, res.BlobID)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read: %v", what, err)
		}
		var buf bytes.Buffer
		if err := c.ReadRange(ctx, res.BlobID, 5_000, 400_000, &buf); err != nil || !bytes.Equal(buf.Bytes(), data[5_000:405_000]) {
			t.Fatalf("%s: range read: %v", what, err)
		}
	}
	check("one node stalled")
	tn.Nodes[1].Stop()
	check("one node stalled and one down")
}

// TestStoreCancelledMidUpload: a small blob's registration runs while its slivers are
// uploaded; a store whose context ends in the middle returns the context's error. Under
// -race this caught the upload reading the registration's outcome without waiting for it.
func TestStoreCancelledMidUpload(t *testing.T) {
	tn := newNetwork(t, netOptions{Shards: testShards, Stakes: testStakes})
	c := newClient(t, tn)
	for round := range 3 {
		ctx, cancel := context.WithCancel(ctxFor(t))
		var once sync.Once
		_, err := c.StoreBytes(ctx, testData(20_000, newSeed()), client.StoreOptions{Progress: func(done, total int64) {
			if done > 0 {
				once.Do(cancel)
			}
		}})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: store cancelled mid-upload: %v, want context.Canceled", round, err)
		}
	}
	// The client stores normally afterwards.
	if _, err := c.StoreBytes(ctxFor(t), testData(20_000, newSeed()), client.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
}
