package cometbft

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/controlplane/cpconformance"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
)

var stateSyncTest = flag.Bool("statesync", false, "run TestStateSyncCatchUp")

// childHome, when set, makes the test binary run one validator (home directory in its value,
// API address in childListen) until SIGTERM: the validator processes of the tests.
const (
	childHome   = "FLOE_CBFT_TEST_VALIDATOR_HOME"
	childListen = "FLOE_CBFT_TEST_VALIDATOR_LISTEN"
	// childRetain, when set, is "RetainBlocks,SnapshotInterval,RetainEvents" of the validator.
	childRetain = "FLOE_CBFT_TEST_VALIDATOR_RETAIN"
)

func TestMain(m *testing.M) {
	if home := os.Getenv(childHome); home != "" {
		os.Exit(runChild(home, os.Getenv(childListen)))
	}
	os.Exit(m.Run())
}

func runChild(home, listen string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := &Options{Logger: log, SnapshotInterval: 20}
	if v := os.Getenv(childRetain); v != "" {
		if _, err := fmt.Sscanf(v, "%d,%d,%d", &o.RetainBlocks, &o.SnapshotInterval, &o.RetainEvents); err != nil {
			fmt.Fprintln(os.Stderr, "bad", childRetain, v)
			return 1
		}
		o.EventSegmentBytes = 4 << 10
	}
	n, err := Open(home, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		n.Close()
		return 1
	}
	srv := &http.Server{Handler: cpserver.New(n, log), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	<-ctx.Done()
	srv.Close()
	if err := n.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 1
	}
	return 0
}

// proc is a validator child process.
type proc struct {
	home, addr, logPath string
	env                 []string
	cmd                 *exec.Cmd
	done                chan struct{}
	client              *cpclient.Client
}

func (p *proc) start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(append(os.Environ(), childHome+"="+p.home, childListen+"="+p.addr), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); logf.Close(); close(p.done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		if _, err := p.client.Info(ctx); err == nil {
			return
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(p.logPath)
			t.Fatalf("validator %s exited: %s", p.home, log)
		case <-ctx.Done():
			t.Fatalf("validator %s not ready", p.home)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *proc) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// stop ends the process with SIGTERM and requires a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("validator %s did not stop on SIGTERM", p.home)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		log, _ := os.ReadFile(p.logPath)
		t.Errorf("validator %s exited with %d: %s", p.home, code, log)
	}
}

func startProcs(t testing.TB, vals []Validator, env ...string) []*proc {
	t.Helper()
	procs := make([]*proc, len(vals))
	for i, v := range vals {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		procs[i] = &proc{home: v.Home, addr: addr, logPath: filepath.Join(v.Home, "validator.log"),
			client: cpclient.New("http://"+addr, nil), env: env}
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { p.start(t) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, p := range procs {
			p.stop(t)
			if log, err := os.ReadFile(p.logPath); err == nil && strings.Contains(string(log), "panic") {
				t.Errorf("validator %s logged a panic:\n%s", p.home, log)
			}
		}
	})
	return procs
}

// observer records the (height, app hash) pairs validators report and fails on any two that
// disagree at a height.
type observer struct {
	t      testing.TB
	hashes map[uint64]cpapi.Hash
	seen   []map[uint64]bool
}

func newObserver(t testing.TB, n int) *observer {
	o := &observer{t: t, hashes: map[uint64]cpapi.Hash{}}
	for range n {
		o.seen = append(o.seen, map[uint64]bool{})
	}
	return o
}

// poll asks validator i for its height and hash; it returns the height (0 if unreachable).
func (o *observer) poll(i int, p *proc) uint64 {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := p.client.Info(ctx)
	if err != nil {
		return 0
	}
	if h, ok := o.hashes[info.Height]; ok && h != info.AppHash {
		o.t.Fatalf("validators diverge at height %d: %s and %s (validator %d)", info.Height, h, info.AppHash, i)
	}
	o.hashes[info.Height] = info.AppHash
	o.seen[i][info.Height] = true
	return info.Height
}

// agree polls until validators i and j have reported the same height (so their hashes were
// compared there) with both at least at height min.
func (o *observer) agree(procs []*proc, i, j int, minHeight uint64) {
	o.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		hi, hj := o.poll(i, procs[i]), o.poll(j, procs[j])
		if hi >= minHeight && hj >= minHeight {
			for h := range o.seen[i] {
				if h >= minHeight && o.seen[j][h] {
					return
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	o.t.Fatalf("validators %d and %d never reported a common height at or above %d", i, j, minHeight)
}

// TestValidatorProcesses runs four validator processes on loopback: transactions and
// queries work through any of them; with one killed (-9) they keep working; restarted, it
// catches up and agrees on the state hash; with two killed the network makes no progress and
// does not diverge, and resumes when one returns.
func TestValidatorProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four validator processes")
	}
	net := cpconformance.NewNetwork()
	vals := initNet(t, 4, net.Genesis)
	procs := startProcs(t, vals)
	obs := newObserver(t, len(procs))
	ctx := context.Background()
	alice, bob := net.Users[0], net.Users[1]
	var sent uint64
	transfer := func(ctx context.Context, via int) (*cpapi.Included, error) {
		inc, err := procs[via].client.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 7}}))
		if err == nil && inc.OK() {
			sent += 7
		}
		return inc, err
	}
	mustTransfer := func(via int) *cpapi.Included {
		t.Helper()
		inc, err := transfer(ctx, via)
		if err != nil || !inc.OK() {
			t.Fatalf("transfer via validator %d: %v %+v", via, err, inc)
		}
		return inc
	}
	// balanceAt waits until validator i reports bob's expected balance.
	balanceAt := func(i int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			a, err := procs[i].client.Account(ctx, cpapi.Address(bob.Address()))
			if err == nil && a.Balance == 1e12+sent {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("validator %d: bob's balance %v (%v), want %d", i, a, err, uint64(1e12)+sent)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	for i := range procs {
		mustTransfer(i)
	}
	for i := range procs {
		balanceAt(i)
	}
	obs.agree(procs, 0, 3, 1)

	// One down: 3 of 4 validators hold more than 2/3 of the power.
	procs[3].kill(t)
	var last *cpapi.Included
	for i := range 3 {
		last = mustTransfer(i)
	}
	for i := range 3 {
		balanceAt(i)
	}
	procs[3].start(t)
	balanceAt(3)
	obs.agree(procs, 3, 0, last.Height)

	// Two down: no quorum, no progress, no divergence.
	procs[2].kill(t)
	procs[3].kill(t)
	stalled := max(obs.poll(0, procs[0]), obs.poll(1, procs[1]))
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := transfer(sctx, 0)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a transaction without quorum: %v", err)
	}
	sent += 7 // it waits in the mempool and commits once the network resumes
	for i := range 2 {
		if h := obs.poll(i, procs[i]); h > stalled+1 {
			t.Fatalf("validator %d went from height %d to %d without a quorum", i, stalled, h)
		}
	}
	procs[2].start(t)
	last = mustTransfer(1)
	for i := range 3 {
		balanceAt(i)
	}
	procs[3].start(t)
	balanceAt(3)
	for i := range 3 {
		obs.agree(procs, 3, i, last.Height)
	}
}

// TestStateSyncCatchUp runs four validator processes that keep only the last 30 blocks
// (a snapshot every 10). One is killed; the others go on until the blocks it would need are
// pruned (so it can no longer catch up by replaying blocks), and the events a follower would
// need from the start are pruned too. The lagging validator is then wiped (keeping its keys)
// and state-synced from a peer's snapshot: it catches up, agrees with the others on the app
// hash, and serves transactions, with its own event history starting at the snapshot.
func TestStateSyncCatchUp(t *testing.T) {
	if !*stateSyncTest {
		t.Skip("runs for a minute with four validator processes: -statesync runs it (.ci/run does)")
	}
	net := cpconformance.NewNetwork()
	tt := testTimeouts
	rpcPorts := make([]int, 4)
	for i := range rpcPorts {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		rpcPorts[i] = p
	}
	vals, err := InitNetwork(NetworkConfig{Dir: t.TempDir(), Validators: 4, Genesis: net.Genesis, Timeouts: &tt, RPCPorts: rpcPorts})
	if err != nil {
		t.Fatal(err)
	}
	procs := startProcs(t, vals, childRetain+"=30,10,20")
	obs := newObserver(t, len(procs))
	ctx := context.Background()
	alice, bob := net.Users[0], net.Users[1]
	transfer := func(via int) *cpapi.Included {
		t.Helper()
		inc, err := procs[via].client.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}}))
		if err != nil || !inc.OK() {
			t.Fatalf("transfer via validator %d: %v %+v", via, err, inc)
		}
		return inc
	}
	for range 3 {
		transfer(3)
	}
	lagged := obs.poll(3, procs[3])
	procs[3].kill(t)

	// The others go on, with transactions (events), until the earliest block they keep is
	// well past the lagging validator's height.
	var last *cpapi.Included
	deadline := time.Now().Add(3 * time.Minute)
	for {
		last = transfer(int(time.Now().UnixNano() % 3))
		st, err := rpcStatus(ctx, vals[0].RPCAddr)
		if err != nil {
			t.Fatal(err)
		}
		_, everr := procs[0].client.Events(ctx, 0, 10, 0)
		if st.SyncInfo.EarliestBlockHeight > int64(lagged)+10 && errors.Is(everr, cpclient.ErrEventsPruned) {
			t.Logf("validator 3 stopped at height %d; validator 0 keeps blocks %d..%d and events from %d",
				lagged, st.SyncInfo.EarliestBlockHeight, st.SyncInfo.LatestBlockHeight, everr.(*cpclient.EventsPrunedError).Oldest)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blocks not pruned: the earliest kept is %d (validator 3 stopped at %d)", st.SyncInfo.EarliestBlockHeight, lagged)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Wipe and state-sync the lagging validator.
	h, hash, err := TrustPoint(ctx, vals[0].RPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := PrepareStateSync(vals[3].Home, []string{vals[0].RPCAddr, vals[1].RPCAddr}, h, hash); err != nil {
		t.Fatal(err)
	}
	procs[3].start(t)
	obs.agree(procs, 3, 0, last.Height)
	last = transfer(3)
	obs.agree(procs, 3, 1, last.Height)
	// Its event history starts at the snapshot it restored.
	_, err = procs[3].client.Events(ctx, 0, 10, 0)
	var pe *cpclient.EventsPrunedError
	if !errors.As(err, &pe) || pe.Oldest == 0 {
		t.Fatalf("events from 0 on the state-synced validator: %v", err)
	}
	page, err := procs[3].client.Events(ctx, pe.Oldest, 1000, 0)
	if err != nil || len(page.Events) == 0 || page.Events[0].Seq != pe.Oldest {
		t.Fatalf("events from %d on the state-synced validator: %+v %v", pe.Oldest, page, err)
	}
	log, _ := os.ReadFile(procs[3].logPath)
	if strings.Contains(string(log), "panic") {
		t.Fatalf("validator 3 logged a panic:\n%s", log)
	}
}

// rpcStatus asks a CometBFT RPC server for its status.
func rpcStatus(ctx context.Context, addr string) (*ctypes.ResultStatus, error) {
	c, err := rpchttp.New("http://"+addr, "/websocket")
	if err != nil {
		return nil, err
	}
	return c.Status(ctx)
}
