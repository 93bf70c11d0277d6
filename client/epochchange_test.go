package client_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/daemon"
	"github.com/floelabs/floe/quilt"
	"github.com/floelabs/floe/redstuff"
)

// statusWriter records the status of a response, and the start of an error's body.
type statusWriter struct {
	http.ResponseWriter
	code int
	body []byte // of an error answer, its first 1 KiB
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.code >= 400 && len(w.body) < 1024 {
		w.body = append(w.body, b[:min(len(b), 1024-len(w.body))]...)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// changeNet is a test network whose control-plane clock the test moves (so that it decides
// when the next committee is selected and when the epoch changes), with a hold on the
// sync_shard requests every node serves and counts of the sliver reads each node answered.
type changeNet struct {
	*testNetwork
	offset  atomic.Int64 // ms added to the wall clock
	epochMs int64

	mu      sync.Mutex
	release chan struct{} // closed: sync_shard requests go through
	served  []atomic.Int64
	missing []atomic.Int64

	// Uploads (PUT requests) to node i wait while holds[i] is open (see holdUploads); held
	// counts those waiting. uploaded counts the body bytes of the uploads node i accepted,
	// notAssigned its 400 SHARD_NOT_ASSIGNED answers.
	holds       []chan struct{}
	held        atomic.Int64
	uploaded    []atomic.Int64
	notAssigned []atomic.Int64
	confirms    []atomic.Int64 // confirmations asked of node i
}

const changeEpochMs = 600_000

func newChangeNet(t *testing.T, stakes []uint64) *changeNet {
	cn := &changeNet{epochMs: changeEpochMs, release: make(chan struct{}), served: make([]atomic.Int64, len(stakes)),
		missing: make([]atomic.Int64, len(stakes)), holds: make([]chan struct{}, len(stakes)),
		uploaded: make([]atomic.Int64, len(stakes)), notAssigned: make([]atomic.Int64, len(stakes)),
		confirms: make([]atomic.Int64, len(stakes))}
	cn.testNetwork = newNetwork(t, netOptions{Shards: testShards, Stakes: stakes, EpochDurationMs: changeEpochMs,
		Clock: func() time.Time { return time.Now().Add(time.Duration(cn.offset.Load()) * time.Millisecond) },
		Wrap: func(i int, h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && r.URL.Path == api.RouteSyncShard {
					cn.mu.Lock()
					release := cn.release
					cn.mu.Unlock()
					select {
					case <-release:
					case <-r.Context().Done():
						return
					}
				}
				if r.Method == http.MethodPut {
					cn.mu.Lock()
					hold := cn.holds[i]
					cn.mu.Unlock()
					if hold != nil {
						cn.held.Add(1)
						select {
						case <-hold:
						case <-r.Context().Done():
						}
						cn.held.Add(-1)
						if r.Context().Err() != nil {
							return // the client gave up on it
						}
					}
					sw := &statusWriter{ResponseWriter: w}
					h.ServeHTTP(sw, r)
					switch {
					case sw.code < 300:
						cn.uploaded[i].Add(r.ContentLength)
					case bytes.Contains(sw.body, []byte(api.ReasonShardNotAssigned)):
						cn.notAssigned[i].Add(1)
					}
					return
				}
				if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/confirmation/") {
					cn.confirms[i].Add(1)
				}
				if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/slivers/") || strings.HasSuffix(r.URL.Path, "/status") {
					h.ServeHTTP(w, r)
					return
				}
				sw := &statusWriter{ResponseWriter: w}
				h.ServeHTTP(sw, r)
				switch sw.code {
				case http.StatusOK:
					cn.served[i].Add(1)
				case http.StatusNotFound:
					cn.missing[i].Add(1)
				}
			})
		}})
	return cn
}

// holdUploads makes uploads to the nodes wait until the returned function is called for
// them (each node's once).
func (cn *changeNet) holdUploads() (release func(node int)) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	for i := range cn.holds {
		cn.holds[i] = make(chan struct{})
	}
	return func(i int) {
		cn.mu.Lock()
		defer cn.mu.Unlock()
		close(cn.holds[i])
		cn.holds[i] = nil
	}
}

func (cn *changeNet) info() cpapi.Info {
	var info cpapi.Info
	cn.Chain.View(func(s *controlplane.State, _ controlplane.Hash) { info = s.Info() })
	return info
}

// moveTo sets the control plane's clock to the given fraction of the current epoch.
func (cn *changeNet) moveTo(f float64) {
	info := cn.info()
	at := info.EpochStartMs + int64(f*float64(cn.epochMs)) + 1
	if d := at - time.Now().UnixMilli(); d > cn.offset.Load() {
		cn.offset.Store(d)
	}
}

// counts returns the sliver reads each node served and answered not found.
func (cn *changeNet) counts() (served, missing []int64) {
	for i := range cn.served {
		served, missing = append(served, cn.served[i].Load()), append(missing, cn.missing[i].Load())
	}
	return served, missing
}

// startHeldChange stakes node 3, and withdraws the others' stakes, so that it holds every
// shard in the next epoch, moves the clock to the next committee's selection and then to the
// epoch change, and returns the committee before the change once node 3 follows the new epoch. The previous owners hold
// back node 3's sync_shard requests (until cn.release is closed): node 3 owns shards whose
// slivers it does not have yet (it answers 404), and the shards that keep their owner are
// fewer than K_p, so no read could decode from the new committee alone.
func (cn *changeNet) startHeldChange(t *testing.T) *cpapi.Committee {
	t.Helper()
	ctx := ctxFor(t)
	cp := cpclient.New(cn.URL, nil)
	cur, err := cp.CurrentCommittee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Node 3's stake grows and the other nodes' owners withdraw theirs: node 3 alone is
	// selected, so every shard is its own (the per-node cap of a committee of one).
	var gainer cpapi.ObjectID
	for _, m := range cur.Members {
		if m.Name == "node-3" {
			gainer = m.NodeID
			continue
		}
		ni, err := cp.NodeInfo(ctx, m.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		owner := cn.Net.NodeOwner[slices.IndexFunc(cn.Net.Genesis.Nodes, func(g controlplane.GenesisNode) bool { return g.Name == m.Name })]
		// The owner's account exists once it received tokens (transactions need it).
		if _, err := cp.Execute(ctx, cn.Net.Genesis.Params.ChainID, cn.Net.Users[0],
			cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(owner.Address()), Amount: 1}}); err != nil {
			t.Fatal(err)
		}
		for _, st := range ni.Stakes {
			if _, err := cp.Execute(ctx, cn.Net.Genesis.Params.ChainID, owner,
				cpapi.Op{WithdrawStake: &cpapi.WithdrawStakeOp{StakeID: st.ID}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := cp.Execute(ctx, cn.Net.Genesis.Params.ChainID, cn.Net.Users[0],
		cpapi.Op{Stake: &cpapi.StakeOp{NodeID: gainer, Amount: 1_000_000}}); err != nil {
		t.Fatal(err)
	}
	cn.moveTo(0.55)
	var next *cpapi.Committee
	waitUntil(t, "the next committee", func() bool {
		next, err = cp.NextCommittee(ctx)
		return err == nil
	})
	before, after := cur.ShardOwner(), next.ShardOwner()
	kept := 0
	for s := range before {
		if cur.Members[before[s]].NodeID == next.Members[after[s]].NodeID {
			kept++
		}
	}
	if k := (testShards - 1) / 3; kept >= testShards-2*k {
		t.Fatalf("%d of %d shards keep their owner: a read could decode without the previous committee", kept, testShards)
	}
	cn.moveTo(1.0)
	waitUntil(t, "the epoch change", func() bool {
		info := cn.info()
		return info.Epoch == cur.Epoch+1 && info.EpochChange != nil && info.EpochChange.State == cpapi.EpochStateChangeSync
	})
	if err := cn.Nodes[3].waitReady(cur.Epoch+1, time.Minute); err != nil {
		t.Fatal(err)
	}
	return cur
}

// finishChange lets node 3's transfers through and waits until the change is done (not
// forced) and the previous owners have dropped the shards they lost.
func (cn *changeNet) finishChange(t *testing.T) {
	t.Helper()
	ctx := ctxFor(t)
	close(cn.release)
	waitUntil(t, "EpochChangeDone", func() bool {
		ec := cn.info().EpochChange
		return ec != nil && ec.State != cpapi.EpochStateChangeSync
	})
	if ec := cn.info().EpochChange; ec.Forced {
		t.Fatalf("the change was forced: %+v", ec)
	}
	for i := 0; i < 3; i++ {
		var left []string // what node i still holds: shard, axis, a blob
		waitUntilOr(t, fmt.Sprintf("node %d, a previous owner, to drop the shards it lost", i), func() bool {
			left = left[:0]
			for s := range testShards {
				for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
					got, err := cn.Nodes[i].store.ShardSlivers(ctx, uint16(s), a, blob.ID{}, 1)
					if err != nil {
						left = append(left, fmt.Sprintf("shard %d: %v", s, err))
					} else if len(got) > 0 {
						left = append(left, fmt.Sprintf("shard %d %s: blob %s", s, a, got[0].BlobID))
					}
				}
			}
			return len(left) == 0
		}, func() string {
			health := "unknown"
			if hc, err := cn.Nodes[i].healthClient(); err == nil {
				h, err := cn.Nodes[i].health(hc, "?detailed=true")
				hc.CloseIdleConnections()
				health = fmt.Sprintf("epoch %d, shards %+v, detail %+v, %v", h.Epoch, h.ShardSummary, h.ShardDetail, err)
			}
			return fmt.Sprintf("it still holds %s; its health: %s; the change: %+v", strings.Join(left, "; "), health, cn.info().EpochChange)
		})
	}
}

// startAggregator serves an aggregator that reads with c until the test ends.
func startAggregator(t *testing.T, c *client.Client) *httptest.Server {
	t.Helper()
	agg, err := daemon.New(daemon.Config{Aggregator: true, Blobs: daemon.FromClient(c), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(agg)
	t.Cleanup(srv.Close)
	return srv
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntilOr(t, what, cond, nil)
}

// waitUntilOr is waitUntil whose failure also says what state explains (if not nil).
func waitUntilOr(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			if state != nil {
				t.Fatalf("timed out waiting for %s: %s", what, state())
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReadDuringEpochChange: node 3 is staked, and the others' stakes withdrawn, so that it
// holds every shard in the next epoch,
// and the previous owners hold back its sync_shard requests: after EpochChangeStart it owns
// shards whose slivers it does not have yet (they are in transfer, it answers 404), and the
// shards that stayed with their owner are fewer than K_p, so no read could decode from the new
// committee alone. Reads of the blobs certified before the change, through the SDK (whole,
// streamed, ranges) and through the aggregator, all succeed: the slivers come from the
// previous owners. A blob stored during the change goes to the new committee. Once the
// transfers go through the change is done, and the blobs read from the new committee, also
// by a client that still had the previous epoch's committee (it reads again with the new one).
func TestReadDuringEpochChange(t *testing.T) {
	cn := newChangeNet(t, []uint64{100, 100, 100, 100})
	ctx := ctxFor(t)
	c := newClient(t, cn.testNetwork)
	var blobs []blob.ID
	data := map[blob.ID][]byte{}
	for k, size := range []int{1, 3_000, 40_000, 200_000, 1 << 20} {
		b := testData(size, newSeed()+uint64(k))
		res, err := c.StoreBytes(ctx, b, client.StoreOptions{Epochs: 5})
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, res.BlobID)
		data[res.BlobID] = b
	}

	// A client that keeps the committee it saw first: after the change it reads with the
	// previous committee, whose members delete their shards once the change is done.
	stale, err := cn.Client(ctx, nil, func(cfg *client.Config) { cfg.Communication.CommitteeRefresh = time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	if _, err := stale.ReadBytes(ctx, blobs[0]); err != nil {
		t.Fatal(err)
	}

	cn.startHeldChange(t)

	// Readers that learn the committee now (a fresh client, the aggregator's), and the
	// first client once its view is refreshed.
	reader := newClient(t, cn.testNetwork)
	srv := startAggregator(t, reader)
	served0, _ := cn.counts()
	var failures []string
	check := func(how string, id blob.ID, got []byte, err error, want []byte) {
		t.Helper()
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("%s %s: %v", how, id, err))
		case !bytes.Equal(got, want):
			failures = append(failures, fmt.Sprintf("%s %s: %d bytes differ from the %d stored", how, id, len(got), len(want)))
		}
	}
	readAll := func(phase string) {
		t.Helper()
		for _, id := range blobs {
			want := data[id]
			got, err := reader.ReadBytes(ctx, id)
			check(phase+": ReadBytes", id, got, err, want)
			var buf bytes.Buffer
			_, err = reader.Read(ctx, id, &buf)
			check(phase+": Read", id, buf.Bytes(), err, want)
			got, err = reader.ReadBytes(ctx, id, client.ReadOptions{Consistency: client.ConsistencyStrict})
			check(phase+": strict ReadBytes", id, got, err, want)
			if len(want) > 10 {
				buf.Reset()
				off, n := uint64(len(want)/3), uint64(len(want)/2)
				err = reader.ReadRange(ctx, id, off, n, &buf)
				check(phase+": ReadRange", id, buf.Bytes(), err, want[off:off+n])
			}
			resp, err := http.Get(srv.URL + "/v1/blobs/" + id.String())
			if err == nil {
				got, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d: %s", resp.StatusCode, got)
				}
			}
			check(phase+": aggregator", id, got, err, want)
		}
	}
	readAll("during the change")
	if len(failures) > 0 {
		t.Fatalf("%d failed reads during the epoch change:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	served, missing := cn.counts()
	if st := cn.info().EpochChange.State; st != cpapi.EpochStateChangeSync {
		t.Fatalf("the change ended during the reads (%s): the test read nothing in transfer", st)
	}
	var fromPrev int64
	for i := 0; i < 3; i++ {
		fromPrev += served[i] - served0[i]
	}
	t.Logf("during the change: node 3 answered %d sliver reads not found; the previous owners served %d", missing[3], fromPrev)
	if missing[3] == 0 || fromPrev == 0 {
		t.Fatalf("the reads did not go from the new owner to the previous ones: served %v, not found %v", served, missing)
	}

	// A blob stored during the change goes to the new committee.
	fresh := testData(100_000, newSeed())
	res, err := reader.StoreBytes(ctx, fresh, client.StoreOptions{Epochs: 3})
	if err != nil {
		t.Fatalf("store during the change: %v", err)
	}
	got, err := reader.ReadBytes(ctx, res.BlobID)
	check("new blob", res.BlobID, got, err, fresh)

	// Let the transfers through: node 3 reports, the change is done, the old owners drop
	// their shards, and the blobs read from the new committee.
	cn.finishChange(t)
	for _, id := range blobs {
		got, err := stale.ReadBytes(ctx, id)
		check("stale committee", id, got, err, data[id])
	}
	reader = newClient(t, cn.testNetwork)
	readAll("after the change")
	if len(failures) > 0 {
		t.Fatalf("%d failed reads:\n%s", len(failures), strings.Join(failures, "\n"))
	}
}

// TestQuiltReadDuringEpochChange: as TestReadDuringEpochChange, for quilt patches. During the
// change node 3 owns shards it does not hold yet; patch reads through the SDK (by ID, by
// identifier, by tag, whole, the patch list) and through the aggregator fetch those columns
// from the shards' previous owners, without rebuilding any column or reading the whole quilt.
// After the change a client that kept the previous epoch's committee reads the patches again
// with the new one.
func TestQuiltReadDuringEpochChange(t *testing.T) {
	cn := newChangeNet(t, []uint64{100, 100, 100, 100})
	ctx := ctxFor(t)
	c := newClientWith(t, cn.testNetwork, steady)
	patches := testPatches(24, newSeed())
	res, err := c.StoreQuilt(ctx, patches, client.StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string][]byte{}
	var idents []string
	for _, p := range patches {
		byID[p.Identifier] = p.Data
		idents = append(idents, p.Identifier)
	}
	stale, err := cn.Client(ctx, nil, func(cfg *client.Config) { cfg.Communication.CommitteeRefresh = time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	if _, err := stale.ListQuiltPatches(ctx, res.BlobID); err != nil {
		t.Fatal(err)
	}

	cn.startHeldChange(t)

	reader := newClientWith(t, cn.testNetwork, steady)
	srv := startAggregator(t, reader)
	served0, missing0 := cn.counts()
	var failures []string
	var stats client.QuiltReadStats
	checkPatches := func(how string, r *client.QuiltReadResult, err error, want []string) {
		t.Helper()
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", how, err))
			return
		}
		stats.Columns += r.Stats.Columns
		stats.FromPrevious += r.Stats.FromPrevious
		stats.Recovered += r.Stats.Recovered
		stats.FullRead = stats.FullRead || r.Stats.FullRead
		if len(r.Patches) != len(want) {
			failures = append(failures, fmt.Sprintf("%s: %d patches, want %d", how, len(r.Patches), len(want)))
			return
		}
		for i, p := range r.Patches {
			if p.Identifier != want[i] || !bytes.Equal(p.Data, byID[want[i]]) {
				failures = append(failures, fmt.Sprintf("%s: patch %d is %q, want %q with its bytes", how, i, p.Identifier, want[i]))
			}
		}
	}
	readAll := func(phase string, c *client.Client) {
		t.Helper()
		list, err := c.ListQuiltPatches(ctx, res.BlobID)
		if err != nil || len(list) != len(patches) {
			failures = append(failures, fmt.Sprintf("%s: ListQuiltPatches: %d patches, %v", phase, len(list), err))
		}
		r, err := c.ReadQuilt(ctx, res.BlobID)
		checkPatches(phase+": ReadQuilt", r, err, idents)
		r, err = c.ReadQuiltPatches(ctx, res.BlobID, []string{idents[5], idents[17]})
		checkPatches(phase+": ReadQuiltPatches", r, err, []string{idents[5], idents[17]})
		var third []string
		for _, p := range patches {
			if p.Tags["kind"] == "third" {
				third = append(third, p.Identifier)
			}
		}
		r, err = c.ReadQuiltPatchesByTag(ctx, res.BlobID, "kind", "third")
		checkPatches(phase+": ReadQuiltPatchesByTag", r, err, third)
		for _, p := range res.Patches {
			r, err := c.ReadQuiltPatchesByID(ctx, []quilt.PatchID{p.PatchID})
			checkPatches(phase+": ReadQuiltPatchesByID", r, err, []string{p.Identifier})
		}
	}
	readAll("during the change", reader)
	for _, p := range res.Patches[:3] {
		resp, err := http.Get(srv.URL + "/v1/blobs/by-quilt-patch-id/" + p.PatchID.String())
		var got []byte
		if err == nil {
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d: %s", resp.StatusCode, got)
			}
		}
		if err != nil || !bytes.Equal(got, byID[p.Identifier]) {
			failures = append(failures, fmt.Sprintf("aggregator %s: %d bytes, %v", p.Identifier, len(got), err))
		}
	}
	if len(failures) > 0 {
		t.Fatalf("%d failed quilt reads during the epoch change:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	if st := cn.info().EpochChange.State; st != cpapi.EpochStateChangeSync {
		t.Fatalf("the change ended during the reads (%s): the test read nothing in transfer", st)
	}
	served, missing := cn.counts()
	var fromPrev int64
	for i := 0; i < 3; i++ {
		fromPrev += served[i] - served0[i]
	}
	t.Logf("during the change: %d columns read, %d from previous owners, %d recovered; node 3 answered %d sliver reads not found, the previous owners served %d",
		stats.Columns, stats.FromPrevious, stats.Recovered, missing[3]-missing0[3], fromPrev)
	if stats.FromPrevious == 0 || missing[3] == missing0[3] || fromPrev == 0 {
		t.Fatalf("the columns did not come from the previous owners: stats %+v, served %v, not found %v", stats, served, missing)
	}
	if stats.Recovered != 0 || stats.FullRead {
		t.Fatalf("columns were rebuilt or the whole quilt read while their previous owners held them: %+v", stats)
	}

	cn.finishChange(t)
	stats = client.QuiltReadStats{}
	readAll("stale committee after the change", stale)
	readAll("after the change", newClient(t, cn.testNetwork))
	if len(failures) > 0 {
		t.Fatalf("%d failed quilt reads after the epoch change:\n%s", len(failures), strings.Join(failures, "\n"))
	}
}

// TestStoreDuringEpochChange stores blobs across the change of TestReadDuringEpochChange
// (node 3 gains every shard; its transfers are held), with clients that learnt the committee
// before the change and do not refresh it on their own:
//   - a store whose uploads are held at the nodes until the change has started: node 3 takes
//     its slivers of the old committee, then misses those of the shards it gained; the store
//     starts again with the new committee, sends node 3 only the pairs it lacks, and
//     certifies the registration it paid for in the previous epoch;
//   - a store that starts after the change with the old committee: the nodes that lost their
//     shards answer 400 SHARD_NOT_ASSIGNED, and the store goes to the new owners.
//
// Both blobs read back after the change is done.
func TestStoreDuringEpochChange(t *testing.T) {
	cn := newChangeNet(t, []uint64{100, 100, 100, 100})
	ctx := ctxFor(t)
	stale := func(cfg *client.Config) {
		steady(cfg)
		cfg.Communication.CommitteeRefresh = time.Hour
	}
	spanning, late := newClientWith(t, cn.testNetwork, stale), newClientWith(t, cn.testNetwork, stale)
	warm, err := spanning.StoreBytes(ctx, testData(1000, newSeed()), client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := late.ReadBytes(ctx, warm.BlobID); err != nil { // late learns the committee
		t.Fatal(err)
	}
	cp := cpclient.New(cn.URL, nil)
	cur, err := cp.CurrentCommittee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := redstuff.New(testShards)
	if err != nil {
		t.Fatal(err)
	}
	// ownedObjects returns the blob objects of id that c's wallet owns.
	ownedObjects := func(c *client.Client, id blob.ID) []cpapi.Blob {
		t.Helper()
		o, err := cp.Owned(ctx, cpapi.Address(c.Address()))
		if err != nil {
			t.Fatal(err)
		}
		var out []cpapi.Blob
		for _, b := range o.Blobs {
			if b.BlobID == id {
				out = append(out, b)
			}
		}
		return out
	}

	// The spanning store: registered in the epoch before the change, uploads held until after.
	data := testData(400_000, newSeed())
	e, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	id := blob.NewMetadata(&e.Commitment).ID
	pairBytes := int64(len(e.Primary[0]) + len(e.Secondary[0]))
	uploaded0, confirms0 := cn.uploaded[3].Load(), cn.confirms[3].Load() // the warm-up store's
	release := cn.holdUploads()
	type outcome struct {
		res *client.StoreResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := spanning.StoreBytes(ctx, data, client.StoreOptions{Epochs: 5})
		done <- outcome{res, err}
	}()
	waitUntil(t, "the registration and an upload to every node", func() bool {
		return cn.held.Load() == int64(len(cn.Nodes)) && len(ownedObjects(spanning, id)) == 1
	})
	cn.startHeldChange(t)
	var gainerOld int64 // node 3's pairs in the old committee
	for _, m := range cur.Members {
		if m.Name == "node-3" {
			gainerOld = int64(len(m.Shards))
		}
	}
	// Node 3 first, until it is asked for its confirmation (it took its pairs, and the client
	// knows it), then the others (by then their uploads may have been given up).
	release(3)
	waitUntil(t, "node 3 to take its slivers of the old committee", func() bool { return cn.confirms[3].Load() > confirms0 })
	first := cn.uploaded[3].Load() - uploaded0
	for i := range 3 {
		release(i)
	}
	out := <-done
	if out.err != nil {
		t.Fatalf("store across the epoch change: %v", out.err)
	}
	total := cn.uploaded[3].Load() - uploaded0
	t.Logf("store across the change: node 3 took %d bytes for its %d pairs of epoch %d, %d in all for its %d pairs of epoch %d (%d bytes a pair)",
		first, gainerOld, cur.Epoch, total, testShards, cur.Epoch+1, pairBytes)
	if first < gainerOld*pairBytes || first > (gainerOld+1)*pairBytes {
		t.Fatalf("node 3 took %d bytes in the old committee's upload, want its %d pairs of %d bytes", first, gainerOld, pairBytes)
	}
	// Every pair once, plus framing and metadata: not its old pairs again.
	if total < testShards*pairBytes || total > (testShards+1)*pairBytes {
		t.Fatalf("node 3 took %d bytes in all, want its %d pairs of %d bytes once", total, testShards, pairBytes)
	}
	objs := ownedObjects(spanning, id)
	if len(objs) != 1 || !objs[0].Certified || objs[0].Storage.End != cur.Epoch+5 || out.res.EndEpoch != cur.Epoch+5 {
		t.Fatalf("blob objects after the store: %+v (result end epoch %d): want one, certified, until epoch %d", objs, out.res.EndEpoch, cur.Epoch+5)
	}

	// The late store: the old committee's members that lost their shards refuse the slivers.
	var refused0 int64
	for i := range cn.notAssigned {
		refused0 += cn.notAssigned[i].Load()
	}
	refused := func() int64 {
		var n int64
		for i := range cn.notAssigned {
			n += cn.notAssigned[i].Load()
		}
		return n
	}
	// Node 3's uploads wait until another node refused its slivers (else node 3 might tell
	// the client first that the committee moved on: it misses the slivers of its new shards).
	release = cn.holdUploads()
	for i := range 3 {
		release(i)
	}
	lateData := testData(150_000, newSeed())
	go func() {
		res, err := late.StoreBytes(ctx, lateData, client.StoreOptions{Epochs: 5})
		done <- outcome{res, err}
	}()
	waitUntil(t, "a node refusing the previous committee's slivers", func() bool { return refused() > refused0 })
	release(3)
	out = <-done
	if out.err != nil {
		t.Fatalf("store with the previous epoch's committee: %v", out.err)
	}
	lateRes := out.res
	t.Logf("store with the previous committee: %d uploads answered %s", refused()-refused0, api.ReasonShardNotAssigned)
	if objs := ownedObjects(late, lateRes.BlobID); len(objs) != 1 || !objs[0].Certified {
		t.Fatalf("blob objects after the late store: %+v", objs)
	}
	if st := cn.info().EpochChange.State; st != cpapi.EpochStateChangeSync {
		t.Fatalf("the change ended during the stores (%s)", st)
	}

	cn.finishChange(t)
	reader := newClient(t, cn.testNetwork)
	for _, b := range []struct {
		id   blob.ID
		data []byte
	}{{id, data}, {lateRes.BlobID, lateData}} {
		got, err := reader.ReadBytes(ctx, b.id)
		if err != nil || !bytes.Equal(got, b.data) {
			t.Fatalf("read %s after the change: %d bytes, %v", b.id, len(got), err)
		}
	}
}
