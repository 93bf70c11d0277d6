package multihost

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/floelabs/floe/internal/devnet/devnettest"
	"github.com/floelabs/floe/internal/netem"
)

var (
	netnsFlag = flag.Bool("netns", false, "run the multi-host test in network namespaces (needs root and ip)")
	reads1    = flag.Int("netns.reads1", 20, "reads of the 1 MiB blob")
	reads64   = flag.Int("netns.reads64", 8, "reads of the 64 MiB blob")
)

// region is a group of storage nodes at one round-trip time from the client host (the
// daemon's, which reads), with a loss rate on the way back (from the nodes).
type region struct {
	name string
	rtt  time.Duration
	loss float64 // per segment, each way
}

var regions = []region{
	{name: "near", rtt: 20 * time.Millisecond},
	{name: "mid", rtt: 80 * time.Millisecond, loss: 0.0001},
	{name: "far", rtt: 150 * time.Millisecond, loss: 0.0005},
}

// nodeRegions places the 7 storage nodes: 2 near, 3 mid, 2 far.
var nodeRegions = []int{0, 0, 1, 1, 1, 2, 2}

// TestMultiHost runs a Floe network over namespaces, one per host: three CometBFT validators,
// seven storage nodes in three regions, and the daemon on a client host, all started with the
// commands of docs/operator.md. Every connection to a storage node goes through a netem proxy
// adding its region's delay and loss (the node's registered public address is the proxy's), so
// the daemon sees its region's round trip to every node, and nodes see it to each other. It
// stores a 1 MiB and a 64 MiB blob through the publisher, reads them back through the
// aggregator and reports read p50/p99 and the bytes each region sent the daemon.
func TestMultiHost(t *testing.T) {
	if !*netnsFlag {
		t.Skip("multi-host test: run with -netns (as root, with iproute2)")
	}
	if why := canCreateNamespaces(); why != "" {
		if os.Getenv("FLOE_REQUIRE_NETNS") == "1" {
			t.Fatal("multi-host test: FLOE_REQUIRE_NETNS=1 but network namespaces cannot be created here: " + why)
		}
		t.Skip("multi-host test: network namespaces cannot be created here: " + why)
	}
	lockNetwork(t)
	removeLeftovers(t)
	t.Cleanup(func() { removeLeftovers(t) })

	dir := t.TempDir()
	bin := filepath.Join(dir, "floe")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/floelabs/floe/cmd/floe").CombinedOutput(); err != nil {
		t.Fatalf("building floe: %v\n%s", err, out)
	}

	// Hosts: the client (daemon), three validators, seven storage nodes; the proxies listen on
	// the bridge in the root namespace, one address per node.
	nNodes := len(nodeRegions)
	proxyIP := func(i int) string { return fmt.Sprintf("%s%d", subnet, 131+i) }
	var extra []string
	for i := range nNodes {
		extra = append(extra, proxyIP(i))
	}
	makeBridge(t, extra)
	client := makeHost(t, "c", subnet+"10")
	var vals, nodes []host
	for i := range 3 {
		vals = append(vals, makeHost(t, fmt.Sprintf("v%d", i+1), fmt.Sprintf("%s%d", subnet, 21+i)))
	}
	for i := range nNodes {
		nodes = append(nodes, makeHost(t, fmt.Sprintf("n%d", i+1), fmt.Sprintf("%s%d", subnet, 31+i)))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	procs := &processes{t: t, dir: dir}
	t.Cleanup(procs.stop)
	floe := func(h host, args ...string) string {
		t.Helper()
		out, err := h.command(ctx, append([]string{bin}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("on %s: floe %s: %v\n%s", h.name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// The proxies: node i's public address is proxyIP(i):9185, forwarding to its host.
	var proxies []*netem.Proxy
	for i, n := range nodes {
		r := regions[nodeRegions[i]]
		ln, err := net.Listen("tcp", proxyIP(i)+":9185")
		if err != nil {
			t.Fatal(err)
		}
		link := netem.Link{Delay: r.rtt / 2, Loss: r.loss, Stall: r.rtt}
		p, err := netem.New(ln, netem.Config{Target: n.ip + ":9185", Up: link, Down: link, Handshake: true, Seed: uint64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		go p.Serve()
		t.Cleanup(func() { p.Close() })
		proxies = append(proxies, p)
	}

	// Control plane (operator guide, "Control plane"): a genesis with short epochs and 100
	// shards, three validators made on one machine, each run on its own host.
	faucet := filepath.Join(dir, "faucet.json")
	var fw struct{ Address string }
	jsonOut(t, floe(client, "wallet", "new", "--out", faucet, "--json"), &fw)
	genesis := filepath.Join(dir, "genesis.json")
	floe(client, "chain", "genesis", "--shards", "100", "--epoch-duration", "30s", "--faucet", fw.Address, "--out", genesis)
	valDir := filepath.Join(dir, "validators")
	var hosts []string
	for _, v := range vals {
		hosts = append(hosts, v.ip)
	}
	floe(client, "chain", "init", "--validators", "3", "--dir", valDir, "--hosts", strings.Join(hosts, ","), "--genesis", genesis)
	for i, v := range vals {
		procs.start(ctx, v, "validator", bin, "chain", "run", "--home", filepath.Join(valDir, fmt.Sprintf("validator-%d", i)), "--listen", v.ip+":7070")
	}
	cpURL := func(i int) string { return "http://" + vals[i%len(vals)].ip + ":7070" }
	for _, v := range vals {
		if err := waitTCP(ctx, v.ip+":7070"); err != nil {
			procs.dumpLogs()
			t.Fatal(err)
		}
	}

	// Storage nodes (operator guide, "A storage node"): init, fund, register --stake, run.
	for i, n := range nodes {
		nd := filepath.Join(dir, n.name)
		out := floe(n, "node", "init", "--dir", nd, "--name", fmt.Sprintf("node-%d-%s", i+1, regions[nodeRegions[i]].name),
			"--listen", n.ip+":9185", "--public-address", proxyIP(i)+":9185", "--metrics-listen", n.ip+":9184", "--control-plane", cpURL(i))
		addr := firstJSONField(t, out, "address")
		floe(n, "wallet", "transfer", "--url", cpURL(i), "--key", faucet, "--to", addr, "--amount", "2000000000000")
		floe(n, "node", "register", "--config", filepath.Join(nd, "node.jsonc"), "--stake", "1000")
		procs.start(ctx, n, "node", bin, "node", "run", "--config", filepath.Join(nd, "node.jsonc"))
	}

	// The daemon (operator guide, "The daemon and the explorer"): a funded wallet, a client
	// configuration naming the control plane.
	dd := filepath.Join(dir, "daemon")
	if err := os.MkdirAll(dd, 0o700); err != nil {
		t.Fatal(err)
	}
	var dw struct{ Address string }
	jsonOut(t, floe(client, "wallet", "new", "--out", filepath.Join(dd, "wallet.json"), "--json"), &dw)
	floe(client, "wallet", "transfer", "--url", cpURL(0), "--key", faucet, "--to", dw.Address, "--amount", "100000000000000")
	clientCfg := filepath.Join(dd, "client_config.yaml")
	if err := os.WriteFile(clientCfg, []byte("control_plane_url: "+cpURL(0)+"\nwallet: wallet.json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Wait for the committee: the nodes count from the epoch after registration.
	start := time.Now()
	for {
		out, err := client.command(ctx, bin, "--config", clientCfg, "info", "storage", "--json").CombinedOutput()
		if err == nil && jsonNumber(out, "nNodes") == nNodes {
			break
		}
		if ctx.Err() != nil {
			procs.dumpLogs()
			t.Fatalf("the committee never had %d nodes: %s", nNodes, out)
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("committee of %d nodes after %v", nNodes, time.Since(start).Round(time.Second))
	var explorerMetrics []string
	for i, n := range nodes {
		explorerMetrics = append(explorerMetrics, fmt.Sprintf("node-%d-%s=http://%s:9184/metrics", i+1, regions[nodeRegions[i]].name, n.ip))
	}
	daemonAddr := client.ip + ":31415"
	procs.start(ctx, client, "daemon", bin, "daemon", "--config", clientCfg, "--bind-address", daemonAddr,
		"--metrics-address", client.ip+":27182", "--max-body-size", "70000", "--explorer-metrics", strings.Join(explorerMetrics, ","))
	if err := waitTCP(ctx, daemonAddr); err != nil {
		procs.dumpLogs()
		t.Fatal(err)
	}

	hc := &http.Client{Timeout: 10 * time.Minute}
	base := "http://" + daemonAddr
	for _, size := range []int{1 << 20, 64 << 20} {
		data := make([]byte, size)
		r := rand.New(rand.NewPCG(uint64(size), 1))
		for i := 0; i < len(data); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && i+j < len(data); j++ {
				data[i+j] = byte(v >> (8 * j))
			}
		}
		st := time.Now()
		id, err := devnettest.PutBlob(ctx, hc, base, 5, data)
		if err != nil {
			procs.dumpLogs()
			t.Fatalf("storing %d bytes: %v", size, err)
		}
		t.Logf("stored %s (%d MiB) in %v", id, size>>20, time.Since(st).Round(time.Millisecond))

		n := *reads1
		if size > 1<<20 {
			n = *reads64
		}
		before := downByRegion(proxies, client.ip)
		var took []time.Duration
		want := sha256.Sum256(data)
		for range n {
			st := time.Now()
			got, err := devnettest.GetBlob(ctx, hc, base, id)
			d := time.Since(st)
			if err != nil {
				procs.dumpLogs()
				t.Fatalf("reading %s: %v", id, err)
			}
			if sha256.Sum256(got) != want {
				t.Fatalf("reading %s: %d bytes that differ from the %d stored", id, len(got), size)
			}
			took = append(took, d)
		}
		after := downByRegion(proxies, client.ip)
		inOrder := make([]string, len(took))
		for i, d := range took {
			inOrder[i] = d.Round(time.Millisecond).String()
		}
		t.Logf("read %d MiB, each read in order: %s", size>>20, strings.Join(inOrder, " "))
		slices.Sort(took)
		t.Logf("read %d MiB x %d: p50 %v p99 %v (min %v max %v)", size>>20, n, pct(took, 0.50), pct(took, 0.99), took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
		var total int64
		for ri := range regions {
			total += after[ri] - before[ri]
		}
		for ri, rg := range regions {
			b := after[ri] - before[ri]
			t.Logf("  region %-4s (RTT %v, loss %.2f%%): %6.1f MiB per read from its nodes (%4.1f%% of the bytes)",
				rg.name, rg.rtt, 100*rg.loss, float64(b)/float64(n)/(1<<20), 100*float64(b)/float64(max(total, 1)))
		}
	}
	for i, p := range proxies {
		c := p.Counts()
		t.Logf("node-%d (%s): %d connections, %.1f MiB in, %.1f MiB out, %d stalls", i+1, regions[nodeRegions[i]].name, c.Conns, float64(c.Up)/(1<<20), float64(c.Down)/(1<<20), c.Stalls)
	}
}

// downByRegion sums, per region, the bytes the nodes' proxies sent to peer.
func downByRegion(proxies []*netem.Proxy, peer string) []int64 {
	out := make([]int64, len(regions))
	for i, p := range proxies {
		out[nodeRegions[i]] += p.CountsByPeer()[peer].Down
	}
	return out
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)].Round(time.Millisecond)
}

// jsonNumber returns the number field key of a JSON object or of an object within it (-1 if
// there is none).
func jsonNumber(out []byte, key string) int {
	var m map[string]any
	if json.Unmarshal(out, &m) != nil {
		return -1
	}
	var find func(m map[string]any) int
	find = func(m map[string]any) int {
		if v, ok := m[key].(float64); ok {
			return int(v)
		}
		for _, v := range m {
			if sub, ok := v.(map[string]any); ok {
				if n := find(sub); n >= 0 {
					return n
				}
			}
		}
		return -1
	}
	return find(m)
}

// jsonOut decodes a command's JSON output.
func jsonOut(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

// firstJSONField returns the string field key of the first JSON object in out (after lines of
// text, as `floe node init` prints).
func firstJSONField(t *testing.T, out, key string) string {
	t.Helper()
	i := strings.Index(out, "{")
	if i < 0 {
		t.Fatalf("no JSON in %q", out)
	}
	dec := json.NewDecoder(strings.NewReader(out[i:]))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s, _ := m[key].(string)
	if s == "" {
		t.Fatalf("no %q in %s", key, out)
	}
	return s
}

// processes are the long-running commands of the test, each logging to a file.
type processes struct {
	t    *testing.T
	dir  string
	mu   sync.Mutex
	list []*proc
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs argv in h's namespace until the test ends.
func (ps *processes) start(ctx context.Context, h host, what string, argv ...string) {
	ps.t.Helper()
	name := h.name + "-" + what
	logPath := filepath.Join(ps.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		ps.t.Fatal(err)
	}
	cmd := h.command(context.WithoutCancel(ctx), argv...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		ps.t.Fatal(err)
	}
	f.Close()
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
}

// stop ends every process: SIGTERM, then SIGKILL after 10 s.
func (ps *processes) stop() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.list {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range ps.list {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	if ps.t.Failed() {
		ps.dumpLocked()
	}
	ps.list = nil
}

// dumpLogs prints the tail of every process's log.
func (ps *processes) dumpLogs() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.dumpLocked()
}

func (ps *processes) dumpLocked() {
	for _, p := range ps.list {
		b, err := os.ReadFile(p.log)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			ps.t.Logf("%s: %v", p.name, err)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		ps.t.Logf("---- %s (last %d lines of %s)\n%s", p.name, min(len(lines), 30), p.log, strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
}
