package cometbft

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cptest"
)

// BenchmarkSubmit measures transactions through Node.Submit (mempool, consensus, commit)
// with 1 and 4 in-process validators on loopback and the default LAN timeouts: latency with
// one transaction at a time, throughput with 512 concurrent senders.
func BenchmarkSubmit(b *testing.B) {
	for _, nv := range []int{1, 4} {
		b.Run(fmt.Sprintf("validators=%d", nv), func(b *testing.B) {
			const users = 512
			net := cptest.NewNetwork(10, 4, users, 1e15, nil, time.Now().Add(-time.Minute))
			t := LANTimeouts()
			vals, err := InitNetwork(NetworkConfig{Dir: b.TempDir(), Validators: nv, Genesis: net.Genesis, Timeouts: &t})
			if err != nil {
				b.Fatal(err)
			}
			nodes := make([]*Node, nv)
			for i, v := range vals {
				nodes[i] = openNode(b, v.Home, nil)
			}
			defer func() {
				for _, n := range nodes {
					n.Close()
				}
			}()
			nonces := make([]atomic.Uint64, users)
			submit := func(u, via int) {
				k := net.Users[u]
				raw, err := controlplane.Sign(&controlplane.Tx{ChainID: net.Genesis.Params.ChainID, Sender: k.PublicKey(),
					Nonce: nonces[u].Add(1) - 1, Op: controlplane.Op{Transfer: &controlplane.TransferOp{To: net.Users[(u+1)%users].Address(), Amount: 1}}}, k)
				if err != nil {
					b.Error(err)
					return
				}
				inc, err := nodes[via].Submit(context.Background(), raw)
				if err != nil || !inc.OK() {
					b.Errorf("submit: %v %+v", err, inc)
				}
			}
			submit(0, 0) // the network is up
			b.Run("latency", func(b *testing.B) {
				start := time.Now()
				for i := range b.N {
					submit(0, i%nv)
				}
				b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/tx")
			})
			b.Run("throughput", func(b *testing.B) {
				var next atomic.Int64
				b.SetParallelism(users / 2)
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					u := int(next.Add(1)) % users
					for pb.Next() {
						submit(u, u%nv)
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tx/s")
			})
		})
	}
}
