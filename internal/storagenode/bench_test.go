package storagenode

import (
	"context"
	"testing"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// benchSetup starts a 10-shard network with one node holding every shard and a registered
// blob of size bytes with its metadata stored.
func benchSetup(b *testing.B, nShards, size int) (*testNet, *testNode, *redstuff.Encoding, blob.ID) {
	tn := newTestNet(b, nShards, 1)
	enc, err := redstuff.New(nShards)
	if err != nil {
		b.Fatal(err)
	}
	e := testBlob(b, enc, size, 5)
	tn.register(e, false)
	node := tn.startNode(0, nil)
	node.waitApplied(b, tn.chain)
	id := blob.NewMetadata(&e.Commitment).ID
	return tn, node, e, id
}

// BenchmarkSliverPut measures one verified, durable sliver PUT over loopback HTTPS (the
// primary sliver of a 1.5 MiB blob at n = 10, about 384 KiB).
func BenchmarkSliverPut(b *testing.B) {
	_, node, e, id := benchSetup(b, 10, 3<<19)
	expect(b, "metadata", node.put(b, api.MetadataPath(id.String()), metadataBody(b, e)), 201, "")
	pr, _ := e.Pair(3)
	body := sliverBody(b, pr)
	path := api.SliverPath(id.String(), 3, "primary")
	shard := uint16(blob.ShardIndex(id, 10, 3))
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := node.store.DeleteSliver(context.Background(), shard, id, redstuff.Primary); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if r := node.put(b, path, body); r.code != 201 {
			b.Fatalf("PUT: %d %s", r.code, r.body)
		}
	}
}

// BenchmarkSliverGet measures one sliver GET over loopback HTTPS.
func BenchmarkSliverGet(b *testing.B) {
	_, node, e, id := benchSetup(b, 10, 3<<19)
	node.upload(b, e, []int{3})
	path := api.SliverPath(id.String(), 3, "primary")
	pr, _ := e.Pair(3)
	b.SetBytes(int64(blob.SliverDataSize(pr)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := node.get(b, path); r.code != 200 {
			b.Fatalf("GET: %d", r.code)
		}
	}
}

// BenchmarkBlobN1000 stores one blob at n = 1000 on one node holding every shard: all 2,000
// slivers and the metadata, by the batched route (1 request) or the per-sliver routes (2,001
// requests). Each iteration uses a fresh node and store.
func BenchmarkBlobN1000(b *testing.B) {
	const n = 1000
	size := 4 << 20
	tn := newTestNet(b, n, 1)
	enc, err := redstuff.New(n)
	if err != nil {
		b.Fatal(err)
	}
	e := testBlob(b, enc, size, 6)
	tn.register(e, false)
	id := blob.NewMetadata(&e.Commitment).ID
	pairs := make([]int, n)
	for i := range pairs {
		pairs[i] = i
	}
	batch := batchBody(b, e, pairs, true)
	var total int64
	for p := 0; p < n; p++ {
		pr, se := e.Pair(p)
		total += int64(blob.SliverDataSize(pr) + blob.SliverDataSize(se))
	}
	for _, mode := range []string{"batched", "per-sliver"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(total)
			requests := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				node := tn.startNode(0, nil)
				node.waitApplied(b, tn.chain)
				b.StartTimer()
				if mode == "batched" {
					r := node.do(b, "PUT", api.SliverBatchPath(id.String()), batch, api.ContentTypeSliverBatch)
					if r.code != 200 {
						b.Fatalf("batch: %d %s", r.code, r.body)
					}
					requests++
				} else {
					node.upload(b, e, pairs)
					requests += 1 + 2*n
				}
				b.StopTimer()
				if r := node.get(b, api.PermanentConfirmationPath(id.String())); r.code != 200 {
					b.Fatalf("confirmation: %d %s", r.code, r.body)
				}
				node.stop()
				b.StartTimer()
			}
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
		})
	}
}
