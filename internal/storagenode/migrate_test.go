package storagenode

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/embedded"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// migrateNet is a peerNet whose control plane runs on a clock the test moves, so that it
// decides when the next committee is selected and when the epoch changes.
type migrateNet struct {
	*peerNet
	offset  atomic.Int64 // ms added to the wall clock
	epochMs int64
}

const migrateEpochMs = 600_000

func newMigrateNet(t testing.TB, nShards, nodes int) *migrateNet {
	t.Helper()
	mn := &migrateNet{epochMs: migrateEpochMs}
	mn.peerNet = newPeerNetChain(t, nShards, nodes, func(p *controlplane.Params) { p.EpochDurationMs = migrateEpochMs },
		func(o *embedded.Options) {
			o.TickInterval = 50 * time.Millisecond
			o.Clock = func() time.Time { return time.Now().Add(time.Duration(mn.offset.Load()) * time.Millisecond) }
		})
	return mn
}

// writeHeld writes k blobs (sizes 20,000 + 977 a blob) and waits until every node holds its
// slivers of each.
func (mn *migrateNet) writeHeld(t *testing.T, k int) []*redstuff.Encoding {
	t.Helper()
	var blobs []*redstuff.Encoding
	for j := range k {
		e := testBlob(t, mn.enc, 20_000+j*977, byte(j+1))
		mn.write(e, nil, -1)
		blobs = append(blobs, e)
	}
	for i := range mn.nodes {
		for _, e := range blobs {
			waitFor(t, "the writes", func() bool { return mn.holdsAll(i, e) })
		}
	}
	return blobs
}

func (mn *migrateNet) info() cpapi.Info {
	var info cpapi.Info
	mn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { info = s.Info() })
	return info
}

func (mn *migrateNet) committee(e uint32) *cpapi.Committee {
	var c *cpapi.Committee
	mn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { c, _ = s.Committee(e) })
	return c
}

// moveTo sets the chain's clock to the given fraction of the current epoch and waits for
// the block the tick makes.
func (mn *migrateNet) moveTo(f float64) {
	info := mn.info()
	at := info.EpochStartMs + int64(f*float64(mn.epochMs)) + 1
	if d := at - time.Now().UnixMilli(); d > mn.offset.Load() {
		mn.offset.Store(d)
	}
}

// stakeAndSelect stakes amount on node i (so that it gains shards: every node starts with
// 100) and moves the clock to voting end; it returns the current and the next committee.
func (mn *migrateNet) stakeAndSelect(i int, amount uint64) (cur, next *cpapi.Committee) {
	t := mn.t
	t.Helper()
	epoch := mn.info().Epoch
	cur = mn.committee(epoch)
	var node cpapi.ObjectID
	for _, m := range cur.Members {
		if m.BLSPublicKey == cpapi.BLSPublicKey(mn.net.NodeKeys[i].PublicKey()) {
			node = m.NodeID
		}
	}
	out, err := mn.chain.Submit(context.Background(), mn.net.Sign(mn.net.Users[0], cpapi.Op{Stake: &cpapi.StakeOp{NodeID: node, Amount: amount}}))
	if err != nil || !out.OK() {
		t.Fatalf("stake: %v %+v", err, out)
	}
	mn.moveTo(0.55)
	waitFor(t, "the next committee", func() bool { return mn.committee(epoch+1) != nil })
	return cur, mn.committee(epoch + 1)
}

// changeEpoch moves the clock to the epoch's end and waits for the change to start.
func (mn *migrateNet) changeEpoch() uint32 {
	epoch := mn.info().Epoch
	mn.moveTo(1.0)
	waitFor(mn.t, "the epoch change", func() bool { return mn.info().Epoch == epoch+1 })
	return epoch + 1
}

func memberShards(c *cpapi.Committee, pk cpapi.BLSPublicKey) map[uint16]bool {
	out := map[uint16]bool{}
	for _, m := range c.Members {
		if m.BLSPublicKey == pk {
			for _, s := range m.Shards {
				out[s] = true
			}
		}
	}
	return out
}

// losers returns, for the shards node i gains from cur to next, their previous owners'
// indices.
func (mn *migrateNet) losers(cur, next *cpapi.Committee, i int) (gained []uint16, owners map[int][]uint16) {
	pk := cpapi.BLSPublicKey(mn.net.NodeKeys[i].PublicKey())
	before, after := memberShards(cur, pk), memberShards(next, pk)
	owners = map[int][]uint16{}
	for s := range after {
		if before[s] {
			continue
		}
		gained = append(gained, s)
		for j := range mn.nodes {
			if memberShards(cur, cpapi.BLSPublicKey(mn.net.NodeKeys[j].PublicKey()))[s] {
				owners[j] = append(owners[j], s)
			}
		}
	}
	slices.Sort(gained)
	return gained, owners
}

func (mn *migrateNet) waitChangeDone(epoch uint32) *cpapi.EpochChange {
	var ec *cpapi.EpochChange
	waitFor(mn.t, "EpochChangeDone", func() bool {
		info := mn.info()
		ec = info.EpochChange
		return info.Epoch == epoch && ec != nil && ec.State != cpapi.EpochStateChangeSync
	})
	return ec
}

// TestSyncShard runs an epoch change in which node 3 gains shards, in four ways: an honest
// previous owner; the previous owner down (recovery rebuilds the shards); the previous owner
// lying (its slivers do not match the metadata: recovery rebuilds them); the transfer
// interrupted (the owner restarts mid-transfer) and resumed where it stopped. In every case
// node 3 ends holding every sliver of its shards, reports EpochSyncDone, the change is done
// without being forced, and the nodes that lost shards delete them only after that.
func TestSyncShard(t *testing.T) {
	for _, mode := range []string{"honest", "owner down", "owner lying", "interrupted"} {
		t.Run(mode, func(t *testing.T) { testSyncShard(t, mode) })
	}
}

func testSyncShard(t *testing.T, mode string) {
	const gainer = 3
	mn := newMigrateNet(t, testShards, 4)
	page := func(c *Config) { c.SyncShardPage = 1 }
	if mode == "honest" {
		// Pages of many slivers that stop at the sender's byte bound (about 2 slivers) first.
		page = func(c *Config) { c.SyncShardPageBytes = 12_000 }
	}
	for i := range mn.nodes {
		mn.start(i, page)
	}
	blobs := mn.writeHeld(t, 6)
	// Tripling node 3's stake gives it 5 of the 10 shards, from two previous owners: fewer
	// than K_s = 7, so rebuilding a gained shard's primary slivers needs symbols from peers (a
	// node holding K_s shards or more rebuilds from its own slivers and fetches nothing).
	cur, next := mn.stakeAndSelect(gainer, 200)
	gained, owners := mn.losers(cur, next, gainer)
	if k := len(memberShards(next, cpapi.BLSPublicKey(mn.net.NodeKeys[gainer].PublicKey()))); k >= mn.enc.Params().SecondarySource {
		t.Fatalf("node %d holds %d shards: it could rebuild without peers", gainer, k)
	}
	// shardBytes is the sliver bytes of the blobs in shards (both axes).
	shardBytes := func(shards []uint16) float64 {
		var sum int
		for _, e := range blobs {
			id := blob.NewMetadata(&e.Commitment).ID
			for _, s := range shards {
				pr, se := e.Pair(blob.PairIndex(id, testShards, int(s)))
				sum += len(pr.Data) + len(se.Data)
			}
		}
		return float64(sum)
	}
	if len(gained) == 0 {
		t.Fatalf("node %d gains no shard: %+v -> %+v", gainer, cur.Members, next.Members)
	}
	var victim int
	for j := range owners {
		victim = j
		break
	}
	ctx := context.Background()
	switch mode {
	case "owner down":
		for j := range owners {
			victim = j
		}
		mn.stop(victim, false)
	case "owner lying":
		// The victim's stored slivers of the shards it will hand over are replaced with
		// well-formed slivers of other bytes.
		for _, s := range owners[victim] {
			for _, a := range [2]redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
				page, err := mn.nodes[victim].store.ShardSlivers(ctx, s, a, blob.ID{}, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, sl := range page {
					sl.Sliver.Data[0] ^= 0xff
					if err := mn.nodes[victim].store.PutSliver(ctx, s, sl.BlobID, sl.Sliver); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	epoch := mn.changeEpoch()
	g := mn.nodes[gainer]
	if mode == "interrupted" {
		waitFor(t, "the first slivers moved", func() bool { return g.metric(t, "floe_node_sync_shard_slivers_total") > 0 })
		mn.stop(victim, false)
		time.Sleep(300 * time.Millisecond)
		mn.start(victim, page)
	}
	for _, e := range blobs {
		waitFor(t, "node 3 holding its new shards", func() bool { return mn.holdsAll(gainer, e) })
	}
	ec := mn.waitChangeDone(epoch)
	if ec.Forced {
		t.Fatalf("the change was forced: %+v", ec)
	}
	var me cpapi.ObjectID
	for _, m := range next.Members {
		if m.BLSPublicKey == cpapi.BLSPublicKey(mn.net.NodeKeys[gainer].PublicKey()) {
			me = m.NodeID
		}
	}
	if !slices.Contains(ec.Done, me) {
		t.Fatalf("node %d did not report: %+v", gainer, ec)
	}
	moved := g.metric(t, "floe_node_sync_shard_slivers_total")
	symbols := g.metric(t, "floe_node_recovery_bytes_total", "kind", "symbols")
	fallbacks := g.metric(t, "floe_node_sync_shard_fallbacks_total")
	rebuilt := g.metric(t, "floe_node_recovered_slivers_total")
	syncBytes := g.metric(t, "floe_node_recovery_bytes_total", "kind", "sync_shard")
	movedBytes := g.metric(t, "floe_node_sync_shard_bytes_total")
	peerSymbols := g.metric(t, "floe_node_recovery_symbols_total", "source", "peers")
	t.Logf("%s: %d shards gained (%v sliver bytes), %v slivers (%v sliver bytes, %v response bytes) moved by sync_shard, "+
		"%v slivers rebuilt from %v recovery-symbol bytes (%v symbols from peers), %v fallbacks",
		mode, len(gained), shardBytes(gained), moved, movedBytes, syncBytes, rebuilt, symbols, peerSymbols, fallbacks)
	// The response bytes of sync_shard are the sliver bytes stored plus the page framing
	// (blob IDs, lengths), and more when a page had to be fetched again.
	if syncBytes < movedBytes {
		t.Fatalf("sync_shard stored %v sliver bytes out of %v response bytes", movedBytes, syncBytes)
	}
	switch mode {
	case "honest", "interrupted":
		if moved != float64(2*len(gained)*len(blobs)) || rebuilt != 0 || fallbacks != 0 {
			t.Fatalf("want %d slivers moved by sync_shard and no recovery", 2*len(gained)*len(blobs))
		}
		if movedBytes != shardBytes(gained) {
			t.Fatalf("sync_shard stored %v sliver bytes, the gained shards hold %v", movedBytes, shardBytes(gained))
		}
		if mode == "honest" && syncBytes > 1.1*movedBytes {
			t.Fatalf("sync_shard fetched %v bytes for %v sliver bytes", syncBytes, movedBytes)
		}
	default:
		if fallbacks == 0 || rebuilt == 0 {
			t.Fatal("the failed transfer was not replaced by recovery")
		}
		// Node 3 holds too few shards to rebuild alone: the symbols came over the network.
		if peerSymbols == 0 || symbols == 0 {
			t.Fatalf("%v slivers rebuilt with %v symbols from peers and %v symbol bytes fetched", rebuilt, peerSymbols, symbols)
		}
		if movedBytes+shardBytes(nil) > shardBytes(gained) {
			t.Fatalf("sync_shard stored %v sliver bytes, more than the gained shards' %v", movedBytes, shardBytes(gained))
		}
	}
	// Nodes that lost shards delete them after the change is done (the victim too, if up).
	for j, shards := range owners {
		if mn.nodes[j] == nil {
			continue
		}
		for _, s := range shards {
			waitFor(t, "the lost shard dropped", func() bool {
				got, err := mn.nodes[j].store.ShardSlivers(ctx, s, redstuff.Primary, blob.ID{}, 1)
				return err == nil && len(got) == 0
			})
		}
	}
	if mode == "honest" {
		// A sliver stored into a lost shard after its deletion (by a write that checked the
		// shard's ownership against the view before the change) is deleted in turn.
		for j, shards := range owners {
			s, e := shards[0], blobs[0]
			id := blob.NewMetadata(&e.Commitment).ID
			pr, _ := e.Pair(blob.PairIndex(id, testShards, int(s)))
			if err := mn.nodes[j].store.PutSliver(ctx, s, id, pr); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a sliver written into a lost shard after its deletion deleted", func() bool {
				got, err := mn.nodes[j].store.ShardSlivers(ctx, s, redstuff.Primary, blob.ID{}, 1)
				return err == nil && len(got) == 0
			})
		}
	}
	// The gainer's health is ready for every shard.
	waitFor(t, "node 3's shards ready", func() bool {
		var h struct {
			Success struct {
				Data struct {
					ShardSummary struct {
						OwnedShardStatus struct{ Ready, InTransfer, InRecovery int }
					}
				}
			}
		}
		r := g.get(t, "/v1/health")
		if r.code != 200 || json.Unmarshal(r.body, &h) != nil {
			return false
		}
		st := h.Success.Data.ShardSummary.OwnedShardStatus
		return st.InTransfer == 0 && st.InRecovery == 0 && st.Ready > 0
	})
}

// TestSyncShardDenied: a request not signed by the shard's new owner, or to a node that did
// not own the shard, is refused.
func TestSyncShardDenied(t *testing.T) {
	mn := newMigrateNet(t, testShards, 4)
	for i := range mn.nodes {
		mn.start(i, nil)
	}
	cur, next := mn.stakeAndSelect(3, 1000)
	_, owners := mn.losers(cur, next, 3)
	epoch := mn.changeEpoch()
	for j, shards := range owners {
		n := mn.nodes[j]
		waitFor(t, "the owner's view", func() bool {
			v, err := n.e.Health(context.Background(), false)
			return err == nil && v.Epoch == epoch
		})
		req := protocol.SyncShardRequest{Epoch: epoch, Shard: shards[0], Axis: redstuff.Primary, Count: 10}
		// Signed by a node that is not the shard's new owner.
		other := (j + 1) % 4
		if other == 3 {
			other = (other + 1) % 4
		}
		waitFor(t, "the other node's view", func() bool {
			v, err := mn.nodes[other].e.Health(context.Background(), false)
			return err == nil && v.Epoch == epoch
		})
		body := protocol.SignSyncShard(mn.net.NodeKeys[other], req)
		expect(t, "foreign signature", n.do(t, "POST", "/v1/migrate/sync_shard", body, "application/octet-stream"), 403, "SYNC_SHARD_DENIED")
		// Signed by the owner, sent to a node that did not own the shard.
		body = protocol.SignSyncShard(mn.net.NodeKeys[3], req)
		expect(t, "not the previous owner", mn.nodes[other].do(t, "POST", "/v1/migrate/sync_shard", body, "application/octet-stream"), 403, "SYNC_SHARD_DENIED")
		expect(t, "garbage", n.do(t, "POST", "/v1/migrate/sync_shard", []byte{1, 2, 3}, "application/octet-stream"), 400, "MALFORMED_BODY")
		r := n.do(t, "POST", "/v1/migrate/sync_shard", body, "application/octet-stream")
		if r.code != 200 {
			t.Fatalf("the owner's request: %d %s", r.code, r.body)
		}
		if _, err := protocol.DecodeSyncShardResponse(r.body); err != nil {
			t.Fatal(err)
		}
		break
	}
}

// TestLostShardKeptUntilNewOwnerHoldsIt: a node gains a shard while it is down, and stays down
// past EpochChangeDone (the others are a quorum) and past the whole next epoch. The previous
// owners keep the shards they lost (health readOnly, floe_node_retained_shards), also across a
// restart, and the control plane keeps them unsynced into the next epoch. When the node comes
// back (with recovery off, so sync_shard is the only way its shards can come) it pulls them
// from the previous owners, which did not own them in the epoch before, reports
// EpochSyncDone in the later epoch, and only then do the previous owners delete them.
func TestLostShardKeptUntilNewOwnerHoldsIt(t *testing.T) {
	mn := newMigrateNet(t, testShards, 4)
	for i := range mn.nodes {
		mn.start(i, nil)
	}
	blobs := mn.writeHeld(t, 6)
	// The gainer is a node with 2 of the 10 shards: 25 more on it (of 425) gives it 3, and the
	// others keep 7, a quorum without it.
	gainer := -1
	for j := range mn.nodes {
		if len(memberShards(mn.committee(mn.info().Epoch), cpapi.BLSPublicKey(mn.net.NodeKeys[j].PublicKey()))) == 2 {
			gainer = j
		}
	}
	cur, next := mn.stakeAndSelect(gainer, 25)
	gained, owners := mn.losers(cur, next, gainer)
	mine := len(memberShards(next, cpapi.BLSPublicKey(mn.net.NodeKeys[gainer].PublicKey())))
	if len(gained) == 0 || !protocol.Quorum.Reached(testShards-mine, testShards) {
		t.Fatalf("node %d gains %d shards (%d in all): want some, and the others a quorum without it", gainer, len(gained), mine)
	}
	var me cpapi.ObjectID
	for _, m := range next.Members {
		if m.BLSPublicKey == cpapi.BLSPublicKey(mn.net.NodeKeys[gainer].PublicKey()) {
			me = m.NodeID
		}
	}
	mn.stop(gainer, false)
	ctx := context.Background()
	holds := func(j int, s uint16) bool {
		got, err := mn.nodes[j].store.ShardSlivers(ctx, s, redstuff.Primary, blob.ID{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		return len(got) > 0
	}
	health := func(j int) api.ServiceHealthInfo {
		h, err := mn.nodes[j].e.Health(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	// keptByOwners checks that every previous owner still holds its lost shards and says so.
	keptByOwners := func(when string) {
		t.Helper()
		for j, shards := range owners {
			waitFor(t, "the owner's retention step", func() bool {
				return mn.nodes[j].metric(t, "floe_node_retained_shards") == float64(len(shards))
			})
			for _, s := range shards {
				if !holds(j, s) {
					t.Fatalf("%s: node %d deleted shard %d, which node %d never took", when, j, s, gainer)
				}
			}
			h := health(j)
			if h.ShardSummary.ReadOnly != len(shards) || len(h.ShardDetail.Other) != len(shards) || h.ShardDetail.Other[0].Status != "readOnly" {
				t.Fatalf("%s: node %d's health: readOnly %d, other %+v, want the %d shards it keeps", when, j, h.ShardSummary.ReadOnly, h.ShardDetail.Other, len(shards))
			}
		}
	}

	epoch := mn.changeEpoch()
	ec := mn.waitChangeDone(epoch)
	if ec.Forced || slices.Contains(ec.Done, me) || len(ec.Unsynced) != len(gained) {
		t.Fatalf("epoch %d's change without node %d: %+v", epoch, gainer, ec)
	}
	time.Sleep(2500 * time.Millisecond) // a few migration steps after EpochChangeDone
	keptByOwners("after EpochChangeDone")
	// A previous owner restarted still keeps them.
	var restarted int
	for j := range owners {
		restarted = j
		break
	}
	mn.stop(restarted, false)
	mn.start(restarted, nil)
	waitFor(t, "the restarted owner's view", func() bool { return health(restarted).Epoch == epoch })
	time.Sleep(2500 * time.Millisecond)
	keptByOwners("after a restart")

	// The next epoch, the gainer still down: the shards stay unsynced, from their old owners.
	mn.moveTo(0.55)
	waitFor(t, "the next committee", func() bool { return mn.committee(epoch+1) != nil })
	later := mn.changeEpoch()
	ec = mn.waitChangeDone(later)
	index := map[cpapi.ObjectID]int{} // node ID -> node index
	for _, m := range cur.Members {
		for j := range mn.nodes {
			if m.BLSPublicKey == cpapi.BLSPublicKey(mn.net.NodeKeys[j].PublicKey()) {
				index[m.NodeID] = j
			}
		}
	}
	for _, h := range ec.Unsynced {
		if j, ok := index[h.From]; h.Owner != me || !ok || !slices.Contains(owners[j], h.Shard) {
			t.Fatalf("epoch %d: shard %d handed over to %s from %s, want to node %d from its owner in epoch %d", later, h.Shard, h.Owner, h.From, gainer, epoch-1)
		}
	}
	if len(ec.Unsynced) != len(gained) || slices.Contains(ec.Done, me) {
		t.Fatalf("epoch %d's change: %+v", later, ec)
	}
	time.Sleep(2500 * time.Millisecond)
	keptByOwners("a whole epoch later")

	// The gainer comes back without recovery: only sync_shard from the old owners can fill it.
	g := mn.start(gainer, func(c *Config) { c.DisableRecovery = true })
	for _, e := range blobs {
		waitFor(t, "the gainer holding its shards", func() bool { return mn.holdsAll(gainer, e) })
	}
	waitFor(t, "the gainer's report", func() bool {
		info := mn.info()
		return info.Epoch == later && slices.Contains(info.EpochChange.Done, me) && len(info.EpochChange.Unsynced) == 0
	})
	var served float64
	for j, shards := range owners {
		served += mn.nodes[j].metric(t, "floe_node_sync_shard_served_slivers_total")
		for _, s := range shards {
			waitFor(t, "the lost shard deleted once its owner holds it", func() bool { return !holds(j, s) })
		}
		waitFor(t, "the owner's health", func() bool { return health(j).ShardSummary.ReadOnly == 0 })
	}
	moved, fallbacks := g.metric(t, "floe_node_sync_shard_slivers_total"), g.metric(t, "floe_node_sync_shard_fallbacks_total")
	t.Logf("node %d down over 2 epoch changes: %d shards kept by %d previous owners (one restarted); back in epoch %d: %v slivers moved by sync_shard (%v served by the old owners), %v fallbacks",
		gainer, len(gained), len(owners), later, moved, served, fallbacks)
	if moved != float64(2*len(gained)*len(blobs)) || fallbacks != 0 {
		t.Fatalf("want %d slivers moved by sync_shard and no fallback", 2*len(gained)*len(blobs))
	}
}
