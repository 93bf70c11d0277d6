package storagenode

import (
	"flag"
	"slices"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
)

var migrateMiB = flag.Int("migrate.mib", 64, "sliver MiB per shard in BenchmarkShardMigration")

// BenchmarkShardMigration measures an epoch change in which node 3 gains shards holding
// -migrate.mib MiB of sliver data each (both axes; blobs of the largest size at n = 10), on
// real nodes over loopback HTTPS:
//
//   - sync_shard: every previous owner is up; the gained shards move with sync_shard.
//   - owner_down: one previous owner is down; its shards are rebuilt from recovery symbols
//     (the rest move with sync_shard).
//
// It reports the response bytes fetched per shard moved by sync_shard (sync_B/shard) and per
// shard rebuilt by recovery (recovery_B/shard: symbols and metadata), each also as a ratio
// of the shard's sliver bytes (sync_x, recovery_x), the symbols that came from the node's own
// slivers instead (local_symbols), and the time from EpochChangeStart to EpochChangeDone.
func BenchmarkShardMigration(b *testing.B) {
	for _, mode := range []string{"sync_shard", "owner_down"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchShardMigration(b, mode)
			}
		})
	}
}

func benchShardMigration(b *testing.B, mode string) {
	b.StopTimer()
	const gainer = 3
	mn := newMigrateNet(b, testShards, 4)
	for i := range mn.nodes {
		mn.start(i, func(c *Config) { c.PeerTimeout = 2 * time.Minute })
	}
	p := mn.enc.Params()
	size := int(p.MaxBlobSize())
	var shardBytes int // sliver bytes of one shard (every shard holds the same)
	for k := 0; shardBytes < *migrateMiB<<20; k++ {
		e := testBlob(b, mn.enc, size-k, byte(k))
		mn.write(e, nil, -1)
		pr, se := e.Pair(0)
		shardBytes += len(pr.Data) + len(se.Data)
	}
	for i := range mn.nodes {
		waitFor(b, "the writes", func() bool { return mn.nodes[i].metric(b, "floe_node_recovery_queue") == 0 })
	}
	cur, next := mn.stakeAndSelect(gainer, 200)
	gained, owners := mn.losers(cur, next, gainer)
	if len(gained) == 0 || len(owners) < 2 && mode == "owner_down" {
		b.Fatalf("node %d gains %d shards from %d owners", gainer, len(gained), len(owners))
	}
	down := 0
	if mode == "owner_down" {
		victim := -1
		for j, s := range owners {
			if victim < 0 || len(s) < len(owners[victim]) {
				victim = j
			}
		}
		mn.stop(victim, false)
		down = len(owners[victim])
	}
	g := mn.nodes[gainer]
	// Bytes fetched before the change (recovery of an upload a node missed) do not count.
	sync0 := g.metric(b, "floe_node_recovery_bytes_total", "kind", "sync_shard")
	rec0 := g.metric(b, "floe_node_recovery_bytes_total", "kind", "symbols") + g.metric(b, "floe_node_recovery_bytes_total", "kind", "metadata")
	local0, peers0 := g.metric(b, "floe_node_recovery_symbols_total", "source", "local"), g.metric(b, "floe_node_recovery_symbols_total", "source", "peers")
	start := time.Now()
	b.StartTimer()
	epoch := mn.changeEpoch()
	ec := mn.waitChangeDone(epoch)
	took := time.Since(start)
	b.StopTimer()
	if ec.Forced {
		b.Fatalf("the change was forced: %+v", ec)
	}
	var me cpapi.ObjectID
	for _, m := range next.Members {
		if m.BLSPublicKey == cpapi.BLSPublicKey(mn.net.NodeKeys[gainer].PublicKey()) {
			me = m.NodeID
		}
	}
	synced := len(gained) - down
	syncBytes := g.metric(b, "floe_node_recovery_bytes_total", "kind", "sync_shard") - sync0
	recBytes := g.metric(b, "floe_node_recovery_bytes_total", "kind", "symbols") + g.metric(b, "floe_node_recovery_bytes_total", "kind", "metadata") - rec0
	b.ReportMetric(float64(shardBytes), "sliver_B/shard")
	b.ReportMetric(syncBytes/float64(synced), "sync_B/shard")
	b.ReportMetric(syncBytes/float64(synced)/float64(shardBytes), "sync_x")
	if down > 0 {
		b.ReportMetric(recBytes/float64(down), "recovery_B/shard")
		b.ReportMetric(recBytes/float64(down)/float64(shardBytes), "recovery_x")
		b.ReportMetric(g.metric(b, "floe_node_recovery_symbols_total", "source", "local")-local0, "local_symbols")
		b.ReportMetric(g.metric(b, "floe_node_recovery_symbols_total", "source", "peers")-peers0, "peer_symbols")
	}
	if down == 0 && recBytes > 0 {
		b.Fatalf("%.0f bytes fetched by recovery while every shard moved with sync_shard", recBytes)
	}
	b.ReportMetric(took.Seconds(), "epoch_change_s")
	if !slices.Contains(ec.Done, me) {
		b.Fatalf("node %d did not report: %+v", gainer, ec)
	}
	b.Logf("%s: %d shards of %.1f MiB gained (%d by sync_shard, %d rebuilt): change done in %v; sync_shard fetched %.1f MiB, recovery %.1f MiB",
		mode, len(gained), float64(shardBytes)/(1<<20), synced, down, took.Round(time.Millisecond), syncBytes/(1<<20), recBytes/(1<<20))
}
