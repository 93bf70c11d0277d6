package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/devnet/devnettest"
	"github.com/floelabs/floe/internal/freeaddr"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/redstuff"
)

var (
	churn           = flag.Bool("churn", false, "run TestChurn: 7 nodes, 3 added and 2 removed, one killed mid-transfer, while blobs are stored and read (15 s epochs)")
	churnChallenges = flag.Bool("churn.challenges", false, "TestChurn with storage challenges on (the control plane's default; off by default in TestChurn)")
)

// churnShards and churnEpoch size TestChurn's network.
const (
	churnShards = 60
	churnEpoch  = 15 * time.Second
)

// startChurnNet starts a devnet of nodes x churnShards with short epochs and the nodes tuned
// as TestChaos tunes them.
func startChurnNet(t *testing.T, nodes int) *testNet {
	return startMembersNet(t, nodes, churnShards, churnEpoch)
}

// startMembersNet starts a devnet of nodes x shards with the given epoch duration whose nodes
// join and leave (floe devnet add-node and remove-node's paths), tuned as TestChaos tunes its
// nodes, with storage challenges off unless -churn.challenges.
func startMembersNet(t *testing.T, nodes, shards int, epoch time.Duration) *testNet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := netDir(t)
	n, err := devnet.Open(ctx, devnet.Config{Dir: dir, Nodes: nodes, Shards: shards, Addr: freeaddr.For(t), Binary: floeBin,
		EpochDuration: epoch, Logger: slog.New(slog.DiscardHandler),
		Params: func(p *controlplane.Params) {
			if !*churnChallenges {
				p.ChallengeRounds = 0
			}
		},
		NodeOptions: map[string]int64{"scrub_interval_secs": 2, "recovery_delay_ms": chaosRecoveryDelay.Milliseconds()}})
	if err != nil {
		t.Fatal(err)
	}
	devnettest.Run(ctx, t, n)
	tn := &testNet{t: t, net: n, shards: shards, pubs: map[string][]byte{}, nodeLog: slog.New(slog.DiscardHandler)}
	tn.info = n.Info()
	tn.info.Nodes = nil // syncNodes takes them
	tn.cp = cpclient.New(tn.info.ControlPlane, nil)
	if tn.enc, err = redstuff.New(shards); err != nil {
		t.Fatal(err)
	}
	if err := tn.syncNodes(ctx); err != nil {
		t.Fatal(err)
	}
	return tn
}

// syncNodes takes the nodes added to the devnet since the last call: their pinned HTTPS
// clients, metrics endpoints and command lines.
func (tn *testNet) syncNodes(ctx context.Context) error {
	nodes, err := tn.cp.Nodes(ctx)
	if err != nil {
		return err
	}
	tn.mu.Lock()
	defer tn.mu.Unlock()
	tn.info.Nodes = tn.net.Info().Nodes
	for _, nd := range nodes {
		tn.pubs[nd.Name] = nd.NetworkPublicKey
	}
	for i := len(tn.hc); i < len(tn.info.Nodes); i++ {
		ni := tn.info.Nodes[i]
		tc, err := nodetls.ClientConfig(tn.pubs[ni.Name], "127.0.0.1", nil)
		if err != nil {
			return err
		}
		tr := &http.Transport{TLSClientConfig: tc}
		tn.t.Cleanup(tr.CloseIdleConnections)
		tn.hc = append(tn.hc, &http.Client{Transport: tr, Timeout: 30 * time.Second})
		tn.metrics = append(tn.metrics, ni.Metrics)
		tn.argv = append(tn.argv, tn.net.Node(i).Argv)
	}
	return nil
}

// health returns node i's health.
func (tn *testNet) health(ctx context.Context, i int) (api.ServiceHealthInfo, error) {
	var h api.Success[api.ServiceHealthInfo]
	b, err := tn.get(ctx, i, api.RouteHealth)
	if err != nil {
		return h.Success.Data, err
	}
	err = json.Unmarshal(b, &h)
	return h.Success.Data, err
}

// memberShards returns the shards of each member of c by node index in tn.info.
func (tn *testNet) memberShards(c *cpapi.Committee) map[int][]uint16 {
	out := map[int][]uint16{}
	for _, m := range c.Members {
		i := slices.IndexFunc(tn.info.Nodes, func(ni devnet.NodeInfo) bool { return ni.Name == m.Name })
		if i >= 0 && len(m.Shards) > 0 {
			out[i] = m.Shards
		}
	}
	return out
}

// churnRun is TestChurn's workload state.
type churnRun struct {
	workload
}

func (r *churnRun) ids() []blob.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []blob.ID
	for _, b := range r.acked {
		out = append(out, b.id)
	}
	return out
}

// TestChurn: a devnet of 7 nodes with 15 s epochs takes continuous stores and reads while 3
// nodes join (floe devnet add-node's path) and 2 leave (remove-node's), one node is killed
// (-9) while it pulls its shards and started again, over at least 4 epoch changes. No read
// may fail and every acknowledged blob must read back; at the end every committee member
// holds every sliver of every shard it owns for every blob (its sliver status routes say
// so) and the departed nodes, started again to ask them, hold none.
func TestChurn(t *testing.T) {
	if !*churn {
		t.Skip("set -churn to run")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("churn seed %d", seed)
	tn := startChurnNet(t, 7)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	c, _ := tn.sdkClient(slog.New(slog.DiscardHandler))
	run := &churnRun{}
	start, err := tn.cp.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in epoch %d", start.Epoch)

	// Blobs to move: 24 of 512 KiB-1 MiB before anything joins, so that a transfer lasts long
	// enough to be interrupted.
	r0 := rand.New(rand.NewPCG(seed, 0))
	for range 24 {
		data := randomBytes(r0, 512<<10+r0.IntN(512<<10))
		res, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 50})
		if err != nil {
			t.Fatalf("initial store: %v", err)
		}
		run.storeDone(data, res, nil)
	}

	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.storeLoop(ctx, runCtx, c, rand.New(rand.NewPCG(seed, uint64(10+w))), func(r *rand.Rand) ([]byte, client.StoreOptions) {
				return randomBytes(r, 1+r.IntN(128<<10)), client.StoreOptions{Epochs: 50}
			})
		}()
	}
	for rd := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(20+rd)))
			for runCtx.Err() == nil {
				run.mu.Lock()
				b := run.acked[r.IntN(len(run.acked))]
				run.mu.Unlock()
				opCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				got, err := c.ReadBytes(opCtx, b.id)
				cancel()
				if runCtx.Err() != nil && err != nil {
					return // cut short by the end of the run
				}
				epoch := uint32(0)
				if in, ierr := tn.cp.Info(ctx); ierr == nil {
					epoch = in.Epoch
				}
				run.readDone(b, got, err, fmt.Sprintf("%s (epoch %d)", b.id, epoch))
			}
		}()
	}
	// Each epoch's committee, as it starts.
	wg.Add(1)
	go func() {
		defer wg.Done()
		seen := uint32(0)
		for runCtx.Err() == nil {
			if c, err := tn.cp.CurrentCommittee(ctx); err == nil && c.Epoch != seen {
				seen = c.Epoch
				var ms []string
				for _, m := range c.Members {
					ms = append(ms, fmt.Sprintf("%s:%d", m.Name, len(m.Shards)))
				}
				t.Logf("epoch %d committee: %v", c.Epoch, ms)
			}
			sleep(runCtx, 500*time.Millisecond)
		}
	}()
	// The devnet's membership loop: it stops removed nodes once they are no longer needed.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for runCtx.Err() == nil {
			if _, stopped, err := tn.net.Refresh(ctx); err != nil {
				t.Logf("refresh: %v", err)
			} else if len(stopped) > 0 {
				t.Logf("devnet stopped removed nodes %v", stopped)
			}
			sleep(runCtx, time.Second)
		}
	}()
	// Three nodes join.
	var joins []*devnet.Joined
	for range 3 {
		j, err := tn.net.AddNode(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("added %s: joins at epoch %d", j.Name, j.JoinEpoch)
		joins = append(joins, j)
	}
	if err := tn.syncNodes(ctx); err != nil {
		t.Fatal(err)
	}
	// The killer: the first node seen pulling shards (inTransfer in its health) is killed -9,
	// then started again 2 s later.
	killed := make(chan string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for runCtx.Err() == nil {
			in, err := tn.cp.Info(ctx)
			if err != nil || in.EpochChange == nil || in.EpochChange.State != cpapi.EpochStateChangeSync {
				sleep(runCtx, 100*time.Millisecond)
				continue
			}
			for i := range tn.info.Nodes {
				if !tn.net.Node(i).Running() {
					continue
				}
				h, err := tn.health(ctx, i)
				if err != nil || h.Epoch != in.Epoch || h.ShardSummary.OwnedShardStatus.InTransfer == 0 {
					continue
				}
				name := tn.info.Nodes[i].Name
				if err := tn.net.Node(i).Kill(); err != nil {
					t.Errorf("kill %s: %v", name, err)
					return
				}
				t.Logf("killed %s (-9) in epoch %d with %d of its %d shards in transfer", name, in.Epoch,
					h.ShardSummary.OwnedShardStatus.InTransfer, h.ShardSummary.Owned)
				sleep(ctx, 2*time.Second)
				if err := tn.start(ctx, i, ""); err != nil {
					t.Errorf("restart %s: %v", name, err)
				}
				t.Logf("%s started again", name)
				killed <- name
				return
			}
			sleep(runCtx, 20*time.Millisecond)
		}
	}()

	waitEpoch := func(what string, cond func(in *cpapi.Info, c *cpapi.Committee) bool) *cpapi.Info {
		t.Helper()
		for {
			in, err := tn.cp.Info(ctx)
			if err == nil {
				c, err := tn.cp.CurrentCommittee(ctx)
				if err == nil && cond(in, c) {
					return in
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %v", what, ctx.Err())
			}
			sleep(ctx, 250*time.Millisecond)
		}
	}
	changeDone := func(in *cpapi.Info) bool {
		return in.EpochChange != nil && in.EpochChange.State != cpapi.EpochStateChangeSync
	}
	in := waitEpoch("the added nodes in the committee", func(in *cpapi.Info, c *cpapi.Committee) bool {
		for _, j := range joins {
			if !slices.ContainsFunc(c.Members, func(m cpapi.Member) bool { return m.Name == j.Name && len(m.Shards) > 0 }) {
				return false
			}
		}
		return changeDone(in)
	})
	t.Logf("epoch %d: the 3 added nodes are members, the change is done", in.Epoch)

	// Two genesis nodes leave.
	var leaves []*devnet.Leaving
	for _, name := range []string{"node-01", "node-02"} {
		l, err := tn.net.RemoveNode(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("removed %s: leaves at epoch %d", name, l.LeaveEpoch)
		leaves = append(leaves, l)
	}
	departed := func() []int {
		var out []int
		for _, l := range leaves {
			out = append(out, slices.IndexFunc(tn.info.Nodes, func(ni devnet.NodeInfo) bool { return ni.Name == l.Name }))
		}
		return out
	}()
	in = waitEpoch("the removed nodes stopped", func(in *cpapi.Info, c *cpapi.Committee) bool {
		for _, i := range departed {
			if tn.net.Node(i).Running() {
				return false
			}
		}
		return in.Epoch >= start.Epoch+4 && changeDone(in)
	})
	var victim string
	select {
	case victim = <-killed:
	case <-time.After(time.Minute):
		t.Error("no node was seen pulling shards (inTransfer) to kill it mid-transfer")
	}
	// One more epoch change with everyone up, then the workload stops.
	last := in.Epoch
	in = waitEpoch("one more epoch change", func(in *cpapi.Info, c *cpapi.Committee) bool { return in.Epoch > last && changeDone(in) })
	stopRun()
	wg.Wait()
	end := in

	// Every acknowledged blob reads back byte-identical.
	c2, _ := tn.sdkClient(slog.New(slog.DiscardHandler))
	lost := 0
	for _, b := range run.acked {
		got, err := c2.ReadBytes(ctx, b.id)
		if err != nil || !bytes.Equal(got, b.data) {
			lost++
			t.Errorf("acknowledged blob %s (%d bytes) lost: %v", b.id, len(b.data), err)
		}
	}

	// Every member holds every sliver of its shards of every blob; the departed nodes none.
	committee, err := tn.cp.CurrentCommittee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := run.ids()
	checked := tn.checkHoldings(ctx, t, committee, ids, departed)
	// Figures.
	var moved, syncBytes, recovered float64
	for i := range tn.info.Nodes {
		if !tn.net.Node(i).Running() {
			continue
		}
		m, _ := tn.metric(ctx, i, "floe_node_sync_shard_slivers_total", "")
		b, _ := tn.metric(ctx, i, "floe_node_recovery_bytes_total", `kind="sync_shard"`)
		rc, _ := tn.metric(ctx, i, "floe_node_recovered_slivers_total", "")
		moved, syncBytes, recovered = moved+m, syncBytes+b, recovered+rc
	}
	t.Logf("churn (storage challenges on: %v): epochs %d -> %d (%d changes), committee %d -> %d members; 3 added, 2 removed, %s killed mid-transfer",
		*churnChallenges, start.Epoch, end.Epoch, end.Epoch-start.Epoch, start.CommitteeSize, len(committee.Members), victim)
	t.Logf("  blobs stored: %d (%.1f MiB), store failures: %d; reads: %d, failed: %d, wrong bytes: %d; acknowledged blobs lost: %d",
		run.stored, float64(run.storedBytes)/(1<<20), run.storeFailures, run.reads, run.readFailures, run.readMismatches, lost)
	t.Logf("  moved by sync_shard (nodes running at the end; a restarted node counts from its restart): %.0f slivers, %.1f MiB; slivers recovered: %.0f",
		moved, syncBytes/(1<<20), recovered)
	t.Logf("  sliver statuses checked: %d on the %d members, %d on the %d departed nodes", checked, len(tn.memberShards(committee)),
		len(departed)*tn.shards*len(ids)*2, len(departed))
	for _, e := range run.errs {
		t.Logf("  first errors: %s", e)
	}
	if run.readFailures > 0 || run.readMismatches > 0 {
		t.Errorf("%d reads failed and %d returned wrong bytes during the churn", run.readFailures, run.readMismatches)
	}
	if end.Epoch-start.Epoch < 4 {
		t.Errorf("only %d epoch changes", end.Epoch-start.Epoch)
	}
}

// checkHoldings checks, through the nodes' sliver status routes, that every member of c holds
// every sliver of every shard it owns for every blob of ids (waiting, within ctx, for those
// still healing), and that the departed nodes, started again to ask them (and stopped after),
// hold none. The members are asked in parallel. It returns the statuses checked on members.
func (tn *testNet) checkHoldings(ctx context.Context, t *testing.T, c *cpapi.Committee, ids []blob.ID, departed []int) int {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	checked := 0
	for i, shards := range tn.memberShards(c) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// Bounded only by the run's liveness bound (ctx): on a loaded machine the
				// sequential status requests alone took over 3 minutes.
				miss, err := tn.missingIn(ctx, i, shards, ids)
				if err == nil && miss == 0 {
					mu.Lock()
					checked += len(shards) * len(ids) * 2
					mu.Unlock()
					return
				}
				if ctx.Err() != nil {
					t.Errorf("%s misses %d slivers of its %d shards (last error %v)", tn.nodeInfo(i).Name, miss, len(shards), err)
					return
				}
				sleep(ctx, time.Second)
			}
		}()
	}
	wg.Wait()
	all := make([]uint16, tn.shards)
	for s := range all {
		all[s] = uint16(s)
	}
	for _, i := range departed {
		name := tn.nodeInfo(i).Name
		if err := tn.net.Node(i).Start(); err != nil {
			t.Fatal(err)
		}
		if err := tn.net.Node(i).WaitReady(ctx, tn.nodeLog, func(ctx context.Context) error {
			_, err := tn.health(ctx, i)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		miss, err := tn.missingIn(ctx, i, all, ids)
		if err != nil {
			t.Fatal(err)
		}
		if held := tn.shards*len(ids)*2 - miss; held != 0 {
			t.Errorf("departed %s still holds %d slivers", name, held)
		}
		if err := tn.net.Node(i).Stop(10 * time.Second); err != nil && !errors.Is(err, devnet.ErrNotRunning) {
			t.Error(err)
		}
	}
	return checked
}

// churner adds and removes nodes at random times while TestChaos runs (-chaos.churn),
// keeping the staked nodes between min and max, and follows the committee: the fault budget
// counts each node's current shards, and the nodes that leave are no longer faulted.
type churner struct {
	tn       *testNet
	inj      *injector
	r        *rand.Rand
	min, max int
	staked   int
	// removed are the nodes whose stake was withdrawn (the devnet stops each once the
	// committee no longer needs it).
	removed         []int
	adds, removals  int
	epochs          map[uint32]bool
	actions, errors []string
}

// follow updates the devnet's membership (stopping removed nodes no longer needed), the
// test's view of the nodes and their current shards.
func (c *churner) follow(ctx context.Context) error {
	if _, stopped, err := c.tn.net.Refresh(ctx); err != nil {
		return err
	} else if len(stopped) > 0 {
		c.actions = append(c.actions, fmt.Sprintf("stopped %v", stopped))
	}
	if err := c.tn.syncNodes(ctx); err != nil {
		return err
	}
	cm, err := c.tn.cp.CurrentCommittee(ctx)
	if err != nil {
		return err
	}
	c.epochs[cm.Epoch] = true
	live := c.tn.memberShards(cm)
	c.tn.mu.Lock()
	c.tn.live = live
	c.tn.mu.Unlock()
	return nil
}

// act adds a node or removes one (a node that is not faulty and not leaving already).
func (c *churner) act(ctx context.Context) {
	add := c.staked < c.max && (c.staked <= c.min || c.r.IntN(2) == 0)
	if add {
		j, err := c.tn.net.AddNode(ctx, 0)
		if err != nil {
			c.errors = append(c.errors, fmt.Sprintf("add-node: %v", err))
			return
		}
		c.staked++
		c.adds++
		c.actions = append(c.actions, fmt.Sprintf("added %s (joins at epoch %d)", j.Name, j.JoinEpoch))
		if err := c.tn.syncNodes(ctx); err != nil {
			c.errors = append(c.errors, fmt.Sprintf("sync nodes: %v", err))
		}
		return
	}
	// Under the injector's lock: the node chosen is not faulty, and no fault starts on it.
	c.inj.mu.Lock()
	var fits []int
	for i := range c.tn.nodeCount() {
		if !c.inj.faulty[i] && !c.inj.skip[i] && c.tn.net.Node(i).Running() {
			fits = append(fits, i)
		}
	}
	if len(fits) == 0 {
		c.inj.mu.Unlock()
		return
	}
	i := fits[c.r.IntN(len(fits))]
	c.inj.skip[i] = true
	c.inj.mu.Unlock()
	name := c.tn.nodeInfo(i).Name
	l, err := c.tn.net.RemoveNode(ctx, name)
	if err != nil {
		c.errors = append(c.errors, fmt.Sprintf("remove-node %s: %v", name, err))
		return
	}
	c.staked--
	c.removals++
	c.removed = append(c.removed, i)
	c.actions = append(c.actions, fmt.Sprintf("removed %s (leaves at epoch %d)", name, l.LeaveEpoch))
}

// run follows the membership every second and acts every 10-30 s until runCtx ends.
func (c *churner) run(ctx, runCtx context.Context) {
	next := time.Now().Add(time.Duration(10+c.r.IntN(20)) * time.Second)
	for runCtx.Err() == nil {
		if err := c.follow(ctx); err != nil && runCtx.Err() == nil {
			c.errors = append(c.errors, fmt.Sprintf("follow: %v", err))
		}
		if time.Now().After(next) {
			c.act(ctx)
			next = time.Now().Add(time.Duration(10+c.r.IntN(20)) * time.Second)
		}
		sleep(runCtx, time.Second)
	}
}

// settle follows the membership until every removed node is stopped and the change to the
// current epoch is done, within ctx.
func (c *churner) settle(ctx context.Context) error {
	for {
		err := c.follow(ctx)
		if err == nil {
			in, ierr := c.tn.cp.Info(ctx)
			stopped := true
			for _, i := range c.removed {
				stopped = stopped && !c.tn.net.Node(i).Running()
			}
			if ierr == nil && stopped && in.EpochChange != nil && in.EpochChange.State != cpapi.EpochStateChangeSync {
				return nil
			}
			err = ierr
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the membership did not settle (last error %v): %w", err, ctx.Err())
		}
		sleep(ctx, time.Second)
	}
}
