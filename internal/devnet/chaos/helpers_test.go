package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/devnet/devnettest"
	"github.com/floelabs/floe/internal/freeaddr"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/redstuff"
)

// floeBin is the floe binary built once for the package's tests.
var floeBin string

// The child binary carries the test-only --byzantine flag (build tag floetest).
func TestMain(m *testing.M) { devnettest.MainTags(m, &floeBin, "floetest") }

// netOptions size a test devnet and tune its nodes.
type netOptions struct {
	Nodes, Shards int
	// ScrubSecs is the nodes' scrubber interval; RecoveryDelay their grace period after a
	// BlobCertified event before they recover what they miss.
	ScrubSecs     int
	RecoveryDelay time.Duration
	// Epoch is the network's epoch duration (default the devnet's, 1 h).
	Epoch time.Duration
}

// testNet is a child-process devnet whose nodes serve Prometheus metrics and can be restarted
// in a Byzantine mode.
type testNet struct {
	t       testing.TB
	net     *devnet.Network
	info    devnet.Info
	shards  int
	argv    [][]string // each node's honest command line
	metrics []string   // each node's metrics URL
	pubs    map[string][]byte
	hc      []*http.Client // each node's pinned HTTPS client
	cp      *cpclient.Client
	enc     *redstuff.Encoder
	nodeLog *slog.Logger

	// mu guards info.Nodes, argv, metrics, hc and live, which grow or change while a test
	// runs when nodes join (syncNodes, chaos -chaos.churn): read them through the accessors.
	mu sync.RWMutex
	// live, when set, is each node's shards in the current committee (updated as epochs
	// change); nil: the genesis shards in info.
	live map[int][]uint16
}

// nodeCount is the number of nodes ever in the test's network.
func (tn *testNet) nodeCount() int {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	return len(tn.info.Nodes)
}

// nodeInfo returns node i's devnet record.
func (tn *testNet) nodeInfo(i int) devnet.NodeInfo {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	return tn.info.Nodes[i]
}

// client returns node i's pinned HTTPS client.
func (tn *testNet) client(i int) *http.Client {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	return tn.hc[i]
}

// metricsURL returns node i's metrics URL.
func (tn *testNet) metricsURL(i int) string {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	return tn.metrics[i]
}

// nodeArgv returns node i's honest command line.
func (tn *testNet) nodeArgv(i int) []string {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	return tn.argv[i]
}

// setArg returns argv with flag's value set to v (appended if absent).
func setArg(argv []string, name, v string) []string {
	out := slices.Clone(argv)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == name {
			out[i+1] = v
			return out
		}
	}
	return append(out, name, v)
}

// workload is what a test's stores and reads did: the acknowledged blobs, the counts, and the
// first errors.
type workload struct {
	mu                                  sync.Mutex
	acked                               []ackedBlob
	stored, storeFailures               int
	storedBytes                         int64
	reads, readFailures, readMismatches int
	errs                                []string // the first 10
}

// note records an error among the first ten (w.mu held).
func (w *workload) note(format string, args ...any) {
	if len(w.errs) < 10 {
		w.errs = append(w.errs, fmt.Sprintf(format, args...))
	}
}

// storeDone records a store of data: acknowledged (res), or failed (err).
func (w *workload) storeDone(data []byte, res *client.StoreResult, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.storeFailures++
		w.note("store: %v", err)
		return
	}
	w.stored++
	w.storedBytes += int64(len(data))
	w.acked = append(w.acked, ackedBlob{res.BlobID, data})
}

// readDone records a read of b that returned got or err (what names the read in errors).
func (w *workload) readDone(b ackedBlob, got []byte, err error, what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reads++
	switch {
	case err != nil:
		w.readFailures++
		w.note("read %s: %v", what, err)
	case !bytes.Equal(got, b.data):
		w.readMismatches++
		w.note("read %s: %d bytes differ from the %d stored", what, len(got), len(b.data))
	}
}

// storeLoop stores the blobs draw gives (data and options) with c until runCtx ends, each
// store bounded by 3 minutes within ctx, and records them.
func (w *workload) storeLoop(ctx, runCtx context.Context, c *client.Client, r *rand.Rand, draw func(*rand.Rand) ([]byte, client.StoreOptions)) {
	for runCtx.Err() == nil {
		data, opts := draw(r)
		opCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		res, err := c.StoreBytes(opCtx, data, opts)
		cancel()
		w.storeDone(data, res, err)
	}
}

// netDir returns the directory for a test's devnet: a temporary one, or a new one under
// -chaos.keep (kept after the test).
func netDir(t testing.TB) string {
	t.Helper()
	if *chaosKeep == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(*chaosKeep, "devnet-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the devnet is kept in %s", dir)
	return dir
}

// startNet starts a devnet; it is stopped when the test ends.
func startNet(t testing.TB, o netOptions) *testNet {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a devnet of child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := netDir(t)
	addrs := freeaddr.ForN(t, o.Nodes+1)
	n, err := devnet.Open(ctx, devnet.Config{Dir: dir, Nodes: o.Nodes, Shards: o.Shards, Addr: addrs[0], Binary: floeBin,
		EpochDuration: o.Epoch, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNet{t: t, net: n, shards: o.Shards, pubs: map[string][]byte{}, nodeLog: slog.New(slog.DiscardHandler)}
	// Before the start: every node gets a metrics listener and a configuration of the test's
	// (the devnet rewrites its own node.json at every start).
	for i := range o.Nodes {
		p := n.Node(i)
		cfgPath := filepath.Join(dir, fmt.Sprintf("chaos-node-%02d.json", i))
		cfg := fmt.Appendf(nil, `{"gc_interval_secs": 600, "scrub_interval_secs": %d, "recovery_delay_ms": %d}`+"\n",
			o.ScrubSecs, o.RecoveryDelay.Milliseconds())
		if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		argv := setArg(setArg(p.Argv, "--metrics-listen", addrs[1+i]), "--config", cfgPath)
		p.Argv = argv
		tn.argv = append(tn.argv, argv)
		tn.metrics = append(tn.metrics, "http://"+addrs[1+i]+api.RouteMetricsPath)
	}
	devnettest.Run(ctx, t, n)
	tn.info = n.Info()
	tn.cp = cpclient.New(tn.info.ControlPlane, nil)
	nodes, err := tn.cp.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes {
		tn.pubs[nd.Name] = nd.NetworkPublicKey
	}
	for _, ni := range tn.info.Nodes {
		tc, err := nodetls.ClientConfig(tn.pubs[ni.Name], "127.0.0.1", nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{TLSClientConfig: tc}
		t.Cleanup(tr.CloseIdleConnections)
		tn.hc = append(tn.hc, &http.Client{Transport: tr, Timeout: 30 * time.Second})
	}
	if tn.enc, err = redstuff.New(o.Shards); err != nil {
		t.Fatal(err)
	}
	return tn
}

// f is the number of shards that may be faulty.
func (tn *testNet) f() int { return (tn.shards - 1) / 3 }

// nodeShards returns the shards of node i (in the current committee, when the test follows
// it).
func (tn *testNet) nodeShards(i int) []uint16 {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	if tn.live != nil {
		return tn.live[i]
	}
	return tn.info.Nodes[i].Shards
}

// restart stops node i (SIGTERM) if it runs, and starts it in mode ("" for honest), waiting
// until it answers.
func (tn *testNet) restart(ctx context.Context, i int, mode string) error {
	p := tn.net.Node(i)
	if err := p.Stop(10 * time.Second); err != nil && !errors.Is(err, devnet.ErrNotRunning) {
		return err
	}
	return tn.start(ctx, i, mode)
}

// start starts the stopped node i in mode and waits until it answers.
func (tn *testNet) start(ctx context.Context, i int, mode string) error {
	p := tn.net.Node(i)
	p.Argv = tn.nodeArgv(i)
	if mode != "" {
		p.Argv = append(slices.Clone(tn.nodeArgv(i)), "--byzantine", mode)
	}
	if err := p.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return p.WaitReady(ctx, tn.nodeLog, func(ctx context.Context) error {
		_, err := tn.get(ctx, i, api.RouteHealth)
		return err
	})
}

// get sends a GET to node i and returns the body of a 200 answer.
func (tn *testNet) get(ctx context.Context, i int, path string) ([]byte, error) {
	b, err := devnettest.Get(ctx, tn.client(i), tn.nodeInfo(i).URL+path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tn.nodeInfo(i).Name, err)
	}
	return b, nil
}

// sliverStatus asks node i whether it stores a sliver of blob id.
func (tn *testNet) sliverStatus(ctx context.Context, i int, id blob.ID, pair int, a redstuff.Axis) (api.StoredOnNodeStatus, error) {
	b, err := tn.get(ctx, i, api.SliverStatusPath(id.String(), pair, a.String()))
	if err != nil {
		return "", err
	}
	var s api.Success[api.StoredOnNodeStatus]
	if err := json.Unmarshal(b, &s); err != nil {
		return "", fmt.Errorf("sliver status %s: %w", b, err)
	}
	return s.Success.Data, nil
}

// missing returns how many slivers of the blobs node i's shards do not hold, as its sliver
// status routes report them.
func (tn *testNet) missing(ctx context.Context, i int, ids []blob.ID) (int, error) {
	return tn.missingIn(ctx, i, tn.nodeShards(i), ids)
}

// missingIn counts the slivers of ids in shards that node i's sliver status routes do not
// report stored.
func (tn *testNet) missingIn(ctx context.Context, i int, shards []uint16, ids []blob.ID) (int, error) {
	miss := 0
	for _, id := range ids {
		for _, sh := range shards {
			pair := blob.PairIndex(id, tn.shards, int(sh))
			for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
				st, err := tn.sliverStatus(ctx, i, id, pair, a)
				if err != nil {
					return 0, err
				}
				if st != api.Stored {
					miss++
				}
			}
		}
	}
	return miss, nil
}

// waitHolds polls node i's sliver status routes until it holds every sliver of ids in its
// shards, or ctx ends.
func (tn *testNet) waitHolds(ctx context.Context, i int, ids []blob.ID) error {
	last := -1
	var lastErr error
	for {
		miss, err := tn.missing(ctx, i, ids)
		if err == nil && miss == 0 {
			return nil
		}
		last, lastErr = miss, err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still misses %d slivers (last error %v): %w", tn.nodeInfo(i).Name, last, lastErr, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// metric returns the sum of the samples of a metric of node i whose labels contain labels
// (e.g. `kind="symbols"`; "" for every sample).
func (tn *testNet) metric(ctx context.Context, i int, name, labels string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tn.metricsURL(i), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') || !strings.Contains(rest, labels) {
			continue
		}
		fields := strings.Fields(rest)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, nil
	}
	return sum, nil
}

// awaitHealed waits until node i has applied every control-plane event there was when it
// began and its recovery queue is empty at two polls half a second apart, or ctx ends.
func (tn *testNet) awaitHealed(ctx context.Context, i int) error {
	target := uint64(0)
	if info, err := tn.cp.Info(ctx); err == nil && info.EventSeq > 0 {
		target = info.EventSeq - 1
	}
	empty := 0
	for {
		cur, err := tn.metric(ctx, i, "floe_node_event_cursor", "")
		q, qerr := tn.metric(ctx, i, "floe_node_recovery_queue", "")
		if err == nil && qerr == nil && uint64(cur) >= target && q == 0 {
			empty++
			if empty == 2 {
				return nil
			}
		} else {
			empty = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healed (event cursor %v of %d, recovery queue %v): %w", tn.nodeInfo(i).Name, cur, target, q, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// flipSliver flips a byte inside the symbols of a stored sliver in the (stopped) node i's
// store; it reports false if the node does not hold the sliver.
func (tn *testNet) flipSliver(ctx context.Context, i int, id blob.ID, shard uint16, a redstuff.Axis) (bool, error) {
	st, err := nodestore.Open(tn.nodeInfo(i).DataDir, &nodestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return false, err
	}
	defer st.Close()
	data, err := st.SliverData(ctx, shard, id, a)
	if errors.Is(err, nodestore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	data = bytes.Clone(data)
	data[len(data)/2] ^= 0x5a // inside the symbols: it still decodes, but no longer matches its hash
	if err := st.PutSliverData(ctx, shard, id, a, data); err != nil {
		return false, err
	}
	return true, st.Close()
}

// wipe stops node i, deletes its data directory and starts it again.
func (tn *testNet) wipe(ctx context.Context, i int) error {
	p := tn.net.Node(i)
	if err := p.Stop(10 * time.Second); err != nil && !errors.Is(err, devnet.ErrNotRunning) {
		return err
	}
	if err := os.RemoveAll(tn.nodeInfo(i).DataDir); err != nil {
		return err
	}
	return tn.start(ctx, i, "")
}

// sdkClient returns an SDK client with a funded wallet of its own, logging to log.
func (tn *testNet) sdkClient(log *slog.Logger) (*client.Client, *client.Config) {
	t := tn.t
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "sdk.key")
	var nw struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(floe(t, "wallet", "new", "--out", key, "--json"), &nw); err != nil {
		t.Fatal(err)
	}
	floe(t, "wallet", "transfer", "--url", tn.info.ControlPlane, "--key", tn.info.Wallet, "--to", nw.Address, "--amount", "100000000000000000")
	cfgPath := filepath.Join(dir, "client_config.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, "control_plane_url: %q\nwallet: %q\n", tn.info.ControlPlane, key), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := client.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = log
	c, err := client.New(context.Background(), *cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, cfg
}

// committee returns the current committee.
func (tn *testNet) committee(ctx context.Context) *cpapi.Committee {
	tn.t.Helper()
	c, err := tn.cp.CurrentCommittee(ctx)
	if err != nil {
		tn.t.Fatal(err)
	}
	return c
}

func floe(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(floeBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("floe %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// logRecord is one record of the client's log.
type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// captureHandler keeps the client's log records (with the attributes of its loggers).
type captureHandler struct {
	mu    *sync.Mutex
	recs  *[]logRecord
	attrs []slog.Attr
}

func newCapture() *captureHandler {
	return &captureHandler{mu: &sync.Mutex{}, recs: &[]logRecord{}}
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	*h.recs = append(*h.recs, rec)
	h.mu.Unlock()
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{mu: h.mu, recs: h.recs, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

// find returns the records at level Warn or above about node whose message contains msg.
func (h *captureHandler) find(node, msg string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range *h.recs {
		if r.Level >= slog.LevelWarn && r.Attrs["node"] == node && strings.Contains(r.Msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

func (h *captureHandler) reset() {
	h.mu.Lock()
	*h.recs = nil
	h.mu.Unlock()
}
