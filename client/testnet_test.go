package client_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/embedded"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/internal/storagenode"
	"github.com/floelabs/floe/internal/storagenode/byzantine"
	"github.com/floelabs/floe/internal/storagenode/engine"
)

// testNetwork is a whole Floe network on 127.0.0.1 in this process: an embedded control
// plane served over HTTP by cpserver, and real storage nodes (HTTPS, Pebble stores on disk)
// that follow it through its HTTP API, all in the genesis committee.
type testNetwork struct {
	URL   string // control-plane API
	Chain *embedded.Chain
	Net   *cptest.Network // genesis and keys; Net.Users are funded accounts
	Nodes []*testNode
	log   *slog.Logger
	dir   string
	srv   *http.Server
	wrap  func(i int, h http.Handler) http.Handler

	funderMu sync.Mutex
	funder   *cpclient.Client
}

// testNode is one storage node of a testNetwork.
type testNode struct {
	Name    string
	Addr    string
	Shards  int
	net     *testNetwork
	index   int
	dir     string
	cert    tls.Certificate
	pub     []byte
	store   *nodestore.Store
	sn      *storagenode.Node
	cancel  context.CancelFunc
	done    chan error
	running bool
}

// netOptions configure a testNetwork.
type netOptions struct {
	Shards int
	// Stakes has one entry per node (shards are apportioned by stake).
	Stakes []uint64
	Users  int
	Logger *slog.Logger
	// Clock, if set, gives the control plane's block times (to move epochs on), and
	// EpochDurationMs its epoch duration (the default if 0).
	Clock           func() time.Time
	EpochDurationMs int64
	// Wrap, if set, wraps the HTTP handler of node i (a test's view of, or hold on, its
	// requests).
	Wrap func(i int, h http.Handler) http.Handler
	// Route, if set, gives the address node i registers (clients dial it) for its listen
	// address, e.g. a netem proxy's in front of it.
	Route func(i int, addr string) (string, error)
}

// startNetwork starts a network; Close stops it and removes its files.
func startNetwork(opts netOptions) (_ *testNetwork, err error) {
	if opts.Users == 0 {
		opts.Users = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "floe-client-net-")
	if err != nil {
		return nil, err
	}
	tn := &testNetwork{log: opts.Logger, dir: dir, wrap: opts.Wrap}
	defer func() {
		if err != nil {
			tn.Close()
		}
	}()
	tn.Net = cptest.NewNetwork(opts.Shards, len(opts.Stakes), opts.Users, 1<<50, opts.Stakes, time.Now())
	if opts.EpochDurationMs > 0 {
		tn.Net.Genesis.Params.EpochDurationMs = opts.EpochDurationMs
	}
	cpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tn.URL = "http://" + cpLn.Addr().String()
	for i := range opts.Stakes {
		key, err := nodetls.GenerateKey(nil)
		if err != nil {
			return nil, err
		}
		cert, err := nodetls.SelfSigned(key, []string{"127.0.0.1"})
		if err != nil {
			return nil, err
		}
		pub, err := nodetls.PublicKeyBytes(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		n := &testNode{Name: fmt.Sprintf("node-%d", i), net: tn, index: i, dir: filepath.Join(dir, fmt.Sprintf("node-%d", i)), cert: cert, pub: pub}
		// Bind the listen address now: the genesis must name it.
		if err := n.build("127.0.0.1:0", byzantine.None); err != nil {
			cpLn.Close()
			return nil, err
		}
		tn.Nodes = append(tn.Nodes, n)
		g := &tn.Net.Genesis.Nodes[i]
		g.NetworkAddress, g.NetworkPublicKey = n.Addr, pub
		if opts.Route != nil {
			if g.NetworkAddress, err = opts.Route(i, n.Addr); err != nil {
				cpLn.Close()
				return nil, err
			}
		}
	}
	cpOpts := &embedded.Options{Genesis: tn.Net.Genesis, Logger: opts.Logger.With("part", "chain"), Clock: opts.Clock}
	if opts.Clock != nil {
		cpOpts.TickInterval = 50 * time.Millisecond
	}
	tn.Chain, err = embedded.Open(filepath.Join(dir, "chain"), cpOpts)
	if err != nil {
		cpLn.Close()
		return nil, err
	}
	tn.srv = &http.Server{Handler: cpserver.New(tn.Chain, opts.Logger.With("part", "cpserver")), ReadHeaderTimeout: 10 * time.Second}
	go tn.srv.Serve(cpLn)
	committee, err := cpclient.New(tn.URL, nil).CurrentCommittee(context.Background())
	if err != nil {
		return nil, err
	}
	for i, n := range tn.Nodes {
		for _, m := range committee.Members {
			if m.NetworkAddress == tn.Net.Genesis.Nodes[i].NetworkAddress {
				n.Shards = len(m.Shards)
			}
		}
		n.run()
	}
	for _, n := range tn.Nodes {
		if err := n.waitReady(committee.Epoch, 30*time.Second); err != nil {
			return nil, err
		}
	}
	return tn, nil
}

// newNetwork starts a network for a test and stops it when the test ends.
func newNetwork(t testing.TB, opts netOptions) *testNetwork {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	tn, err := startNetwork(opts)
	if err != nil {
		t.Fatalf("starting the network: %v", err)
	}
	t.Cleanup(tn.Close)
	return tn
}

func testLogger() *slog.Logger {
	if os.Getenv("FLOE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Client returns a client of the network with wallet as its wallet.
func (tn *testNetwork) Client(ctx context.Context, wallet *crypto.AccountKey, mutate func(*client.Config)) (*client.Client, error) {
	cfg := client.Config{ControlPlaneURL: tn.URL, Wallet: wallet, Logger: tn.log.With("part", "client")}
	// Local network: retry soon, not after Walrus's one-second minimum.
	cfg.Communication.MinBackoff = 50 * time.Millisecond
	cfg.Communication.MaxBackoff = time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	return client.New(ctx, cfg)
}

// NewWallet creates an account funded with amount by the last of Net.Users (which nothing
// else may use).
func (tn *testNetwork) NewWallet(ctx context.Context, amount uint64) (*crypto.AccountKey, error) {
	k, err := crypto.GenerateAccountKey(nil)
	if err != nil {
		return nil, err
	}
	tn.funderMu.Lock()
	defer tn.funderMu.Unlock()
	if tn.funder == nil {
		tn.funder = cpclient.New(tn.URL, nil)
	}
	funder := tn.Net.Users[len(tn.Net.Users)-1]
	if _, err := tn.funder.Execute(ctx, tn.Net.Genesis.Params.ChainID, funder, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(k.Address()), Amount: amount}}); err != nil {
		return nil, fmt.Errorf("funding a wallet: %w", err)
	}
	return k, nil
}

// Close stops every node and the control plane and removes the files.
func (tn *testNetwork) Close() {
	for _, n := range tn.Nodes {
		n.Stop()
		if n.store != nil {
			n.store.Close()
			n.store = nil
		}
	}
	if tn.srv != nil {
		tn.srv.Close()
	}
	if tn.Chain != nil {
		tn.Chain.Close()
	}
	os.RemoveAll(tn.dir)
}

// build opens the node's store and builds the node, listening on listen and lying in mode.
func (n *testNode) build(listen string, mode byzantine.Mode) error {
	st, err := nodestore.Open(n.dir, nil)
	if err != nil {
		return err
	}
	cfg := storagenode.Config{ListenAddr: listen, Certificate: n.cert, Options: engine.Options{
		Store:        st,
		ControlPlane: storagenode.Remote{Client: cpclient.New(n.net.URL, nil), Poll: time.Second},
		ProtocolKey:  n.net.Net.NodeKeys[n.index],
		Logger:       n.net.log.With("node", n.Name),
		EventPoll:    time.Second,
	}}
	byzantine.Configure(mode, &cfg)
	sn, err := storagenode.New(cfg)
	if err == nil {
		err = byzantine.Apply(sn, mode, &cfg)
	}
	if err != nil {
		st.Close()
		return err
	}
	if w := n.net.wrap; w != nil {
		sn.WrapHandler(func(h http.Handler) http.Handler { return w(n.index, h) })
	}
	n.store, n.sn, n.Addr = st, sn, sn.Addr()
	return nil
}

// run serves the built node.
func (n *testNode) run() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done, n.running = cancel, make(chan error, 1), true
	sn := n.sn
	go func() { n.done <- sn.Run(ctx) }()
}

// Stop stops the node (as a crash of its process would, but letting Pebble close).
func (n *testNode) Stop() {
	if !n.running {
		return
	}
	n.cancel()
	if err := <-n.done; err != nil {
		n.net.log.Error("node run", "node", n.Name, "err", err)
	}
	n.running = false
	n.store.Close()
	n.store = nil
}

// Start restarts a stopped node on the same address with the same store and keys.
func (n *testNode) Start() error {
	return n.StartByzantine(byzantine.None)
}

// StartByzantine starts a stopped node that misbehaves in mode.
func (n *testNode) StartByzantine(mode byzantine.Mode) error {
	if n.running {
		return nil
	}
	var err error
	for range 50 { // the old listener's port may take a moment to free
		if err = n.build(n.Addr, mode); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	n.run()
	return nil
}

// waitReady waits until the node reports the epoch in its health.
func (n *testNode) waitReady(epoch uint32, timeout time.Duration) error {
	hc, err := n.healthClient()
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		h, err := n.health(hc, "")
		if err == nil && h.Epoch >= epoch {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not ready: %v", n.Name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healthClient returns an HTTPS client pinned to the node's key.
func (n *testNode) healthClient() (*http.Client, error) {
	tc, err := nodetls.ClientConfig(n.pub, "127.0.0.1", nil)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}, nil
}

// health returns the node's health (query "?detailed=true" adds every shard's status).
func (n *testNode) health(hc *http.Client, query string) (api.ServiceHealthInfo, error) {
	resp, err := hc.Get("https://" + n.Addr + api.RouteHealth + query)
	if err != nil {
		return api.ServiceHealthInfo{}, err
	}
	defer resp.Body.Close()
	var h api.Success[api.ServiceHealthInfo]
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return api.ServiceHealthInfo{}, fmt.Errorf("node %s health: %s: %w", n.Name, resp.Status, err)
	}
	return h.Success.Data, nil
}
