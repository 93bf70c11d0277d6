package cometbft

import (
	"context"
	"errors"
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

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/controlplane/cpconformance"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
)

// childHome, when set, makes the test binary run one validator (home directory in its value,
// API address in childListen) until SIGTERM: the validator processes of the tests.
const (
	childHome   = "FLOE_CBFT_TEST_VALIDATOR_HOME"
	childListen = "FLOE_CBFT_TEST_VALIDATOR_LISTEN"
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
	n, err := Open(home, &Options{Logger: log, SnapshotInterval: 20})
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
	p.cmd.Env = append(os.Environ(), childHome+"="+p.home, childListen+"="+p.addr)
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

func startProcs(t testing.TB, vals []Validator) []*proc {
	t.Helper()
	procs := make([]*proc, len(vals))
	for i, v := range vals {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		procs[i] = &proc{home: v.Home, addr: addr, logPath: filepath.Join(v.Home, "validator.log"),
			client: cpclient.New("http://"+addr, nil)}
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
