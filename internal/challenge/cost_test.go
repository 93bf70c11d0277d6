package challenge

import (
	"fmt"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// BenchmarkAnswerCost measures what one sample costs at n = 1000 shards, where a node holds
// one shard (two slivers per blob) and its samples of a round fall on distinct blobs: the
// prover builds the blob's pair-hash tree (NewBlobProver), expands the sampled sliver and
// opens the symbol (Prove, which also verifies it), and each verifier checks it (Verify).
// Reported per sample: prove-ns, verify-ns and answer-bytes (the encoded entry, the answer's
// fixed part and signature spread over 100 samples), and the sliver bytes the node stores per
// blob (stored-bytes), for the cost model in the README's "Storage challenges". Then, per node
// and epoch at 10,000 blobs of the size (one round of 100 samples, 1000 members of one shard):
// the answer bytes sent (and, on average, received) as a fraction of the node's stored sliver
// bytes (net-frac) and the verifiers' CPU seconds, for the answer broadcast to every member and
// for the answer sent to its sampled verifiers (Verifiers, 200 slots: contacts until the
// holders of more than half the slots), and the prover's CPU seconds.
func BenchmarkAnswerCost(b *testing.B) {
	const n, samples = 1000, 100
	for _, size := range []int{64 << 10, 1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("n=%d/blob=%dKiB", n, size>>10), func(b *testing.B) {
			enc, e, md := testBlob(b, n, size)
			params := enc.Params()
			s := Sample{BlobID: md.ID, Shard: 7, Axis: redstuff.Secondary, Symbol: 5}
			sl := sliverFor(e, s, n)
			pr, se := e.Pair(s.Pair(n))
			stored := len(pr.Data) + len(se.Data)
			// The answer's size: 100 entries like this one.
			bp, err := NewBlobProver(enc, md)
			if err != nil {
				b.Fatal(err)
			}
			entries, err := bp.Prove(sl, []Sample{s})
			if err != nil {
				b.Fatal(err)
			}
			ans := &Answer{Epoch: 1, Node: protocol.ObjectID{1}}
			for range samples {
				ans.Entries = append(ans.Entries, entries[0])
			}
			body, err := ans.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var proveNs, verifyNs int64
			for b.Loop() {
				t0 := nowNs()
				bp, err := NewBlobProver(enc, md)
				if err != nil {
					b.Fatal(err)
				}
				en, err := bp.Prove(sl, []Sample{s})
				if err != nil {
					b.Fatal(err)
				}
				t1 := nowNs()
				if err := Verify(params, s, &en[0]); err != nil {
					b.Fatal(err)
				}
				proveNs += t1 - t0
				verifyNs += nowNs() - t1
			}
			b.ReportMetric(float64(proveNs)/float64(b.N), "prove-ns/sample")
			b.ReportMetric(float64(verifyNs)/float64(b.N), "verify-ns/sample")
			b.ReportMetric(float64(len(body))/samples, "answer-bytes/sample")
			b.ReportMetric(float64(stored), "stored-bytes/blob")
			// Per node and epoch (one round), 10,000 blobs, n = 1000 members of one shard each:
			// the answer broadcast to the 999 others, or sent to the holders of its verifier
			// slots until they hold more than half of them (expected contacts).
			const blobs, members = 10_000, n
			storedTotal := float64(blobs * stored)
			verifySec := float64(verifyNs) / float64(b.N) * 1e-9
			contacts := ExpectedContacts(DefaultVerifierSlots, n, func(s uint16) int { return int(s) }, 200)
			for _, m := range []struct {
				name  string
				peers float64
			}{{"broadcast", members - 1}, {"sampled", contacts}} {
				b.ReportMetric(m.peers*float64(len(body))/storedTotal, m.name+"-net-frac/node-epoch")
				b.ReportMetric(m.peers*samples*verifySec, m.name+"-verify-cpu-s/node-epoch")
			}
			b.ReportMetric(contacts, "sampled-contacts/answer")
			b.ReportMetric(samples*float64(proveNs)/float64(b.N)*1e-9, "prove-cpu-s/node-epoch")
		})
	}
}

func nowNs() int64 { return time.Now().UnixNano() }
