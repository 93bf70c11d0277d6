package client_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"sync"
	"testing"

	"github.com/floelabs/floe/client"
)

// The benchmark network is the default devnet's shape: 10 nodes, 1000 shards.
var benchNet = struct {
	once sync.Once
	tn   *testNetwork
	err  error
}{}

func benchNetwork(b *testing.B) *testNetwork {
	b.Helper()
	benchNet.once.Do(func() {
		benchNet.tn, benchNet.err = startNetwork(netOptions{Shards: 1000, Stakes: []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, Logger: testLogger()})
	})
	if benchNet.err != nil {
		b.Fatal(benchNet.err)
	}
	return benchNet.tn
}

func benchClient(b *testing.B, tn *testNetwork) *client.Client {
	b.Helper()
	ctx := context.Background()
	w, err := tn.NewWallet(ctx, 1<<45)
	if err != nil {
		b.Fatal(err)
	}
	c, err := tn.Client(ctx, w, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func benchStore(b *testing.B, size int) {
	tn := benchNetwork(b)
	c := benchClient(b, tn)
	ctx := context.Background()
	data := testData(size, newSeed())
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// A new blob each time: change its first bytes.
		if size >= 8 {
			binary.LittleEndian.PutUint64(data, uint64(i)^newSeed())
		}
		if _, err := c.StoreBytes(ctx, data, client.StoreOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStore64MiB is the store throughput of a 64 MiB blob (encode, register, upload to
// 10 nodes verifying and persisting 1000 shards, confirm, certify).
func BenchmarkStore64MiB(b *testing.B) { benchStore(b, 64<<20) }

// BenchmarkStore1KiB is the latency of storing a 1 KiB blob.
func BenchmarkStore1KiB(b *testing.B) { benchStore(b, 1<<10) }

// BenchmarkRead64MiB is the read throughput of a 64 MiB blob (metadata, 334 verified primary
// slivers, decode with the consistency check).
func BenchmarkRead64MiB(b *testing.B) {
	tn := benchNetwork(b)
	c := benchClient(b, tn)
	ctx := context.Background()
	data := testData(64<<20, newSeed())
	res, err := c.StoreBytes(ctx, data, client.StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.Read(ctx, res.BlobID, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		b.Fatalf("read: %v", err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Read(ctx, res.BlobID, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
