// Package storagenode is Floe's storage node: it follows the control plane's events, accepts
// metadata and slivers of registered blobs over an HTTPS API that follows Walrus's storage-node
// routes (spec §5), verifies and stores them in a nodestore, signs storage confirmations with
// its BLS key once it holds both slivers of every shard it owns, and serves slivers, metadata,
// recovery symbols and statuses. It heals itself: slivers of certified blobs that its shards
// lack (missed writes, a wiped disk, slivers quarantined as corrupt by the scrubber or a read)
// are rebuilt in the background from other nodes' recovery symbols (recovery.go), and a
// rebuilt sliver that contradicts the metadata leads to an inconsistency proof and an
// invalid-blob certificate on the control plane (inconsistency.go). Wire types live in
// api/storagenode.
//
// A Node is built from a Config (New), then Run serves until its context ends. Many nodes can
// run in one process: the logger and the Prometheus registry are passed in.
package storagenode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/redstuff"
)

// Config configures a Node. Store, ControlPlane, ProtocolKey and Certificate are required;
// zero limits take the defaults.
type Config struct {
	// ListenAddr is the HTTPS listen address (default 127.0.0.1:0).
	ListenAddr string
	// MetricsAddr is the address of the Prometheus listener; "" disables it.
	MetricsAddr string
	Store       *nodestore.Store
	// ControlPlane is the control plane the node follows.
	ControlPlane ControlPlane
	// ProtocolKey is the node's BLS key; the node finds itself in committees by its public key.
	ProtocolKey *crypto.BLSSecretKey
	// Certificate is the node's TLS certificate (nodetls.SelfSigned for its network key).
	Certificate tls.Certificate
	Logger      *slog.Logger
	// Registry receives the node's metrics (a fresh registry if nil).
	Registry *prometheus.Registry

	// MaxPendingBytes bounds the buffer of uploads for blobs not yet registered (default 256 MiB);
	// PendingTTL is how long they wait for the registration (default 10 minutes).
	MaxPendingBytes int64
	PendingTTL      time.Duration
	// MaxWaitForRegistration caps wait_millis of confirmation requests (default 10 s).
	MaxWaitForRegistration time.Duration
	// EventBatch is the number of events fetched and applied at once (default 500);
	// EventPoll the long-poll duration (default 2 s).
	EventBatch int
	EventPoll  time.Duration
	// MaxSymbolRequests bounds concurrent recovery-symbol requests (default GOMAXPROCS); more
	// are refused with 503.
	MaxSymbolRequests int
	// MaxVerifications bounds concurrent sliver verifications (default GOMAXPROCS).
	MaxVerifications int
	// ScrubInterval and GCInterval schedule the scrubber and garbage collection (0: never).
	ScrubInterval time.Duration
	GCInterval    time.Duration

	// Listener, if set, is the HTTPS listener to serve on (ListenAddr is then ignored); the
	// node closes it when Run returns.
	Listener net.Listener
	// AccountKey signs the node's control-plane transactions (invalid-blob certificates). If
	// nil the node uses an account key derived from its protocol key.
	AccountKey *crypto.AccountKey

	// DisableRecovery turns off sliver recovery (the node still serves recovery symbols and
	// inconsistency proofs).
	DisableRecovery bool
	// RecoveryWorkers is the number of blobs recovered at once (default 2); RecoveryFetches
	// the number of concurrent peer requests of one blob's recovery (default 8).
	RecoveryWorkers int
	RecoveryFetches int
	// RecoveryHedge is the least time a recovery waits for a round of peer requests before it
	// asks other peers in place of those that have not answered; it waits four times the
	// median of the recent rounds if that is longer (default 5 s).
	RecoveryHedge time.Duration
	// RecoveryDelay is the grace period after a BlobCertified event before the node recovers
	// the slivers it misses, leaving in-flight uploads time to arrive (default 30 s).
	RecoveryDelay time.Duration
	// RecoveryBackoff is the first retry delay of a failed recovery, doubled per failure up
	// to RecoveryMaxBackoff (defaults 1 s and 5 minutes).
	RecoveryBackoff    time.Duration
	RecoveryMaxBackoff time.Duration
	// RecoverySweep is the interval of the walk over every blob the node knows that queues
	// the certified ones it misses slivers of (default 10 minutes; the walk also runs at
	// start).
	RecoverySweep time.Duration
	// MaxRecoveryQueue bounds the blobs queued for recovery (default 100 000); a sweep that
	// finds more leaves the rest to the next sweep.
	MaxRecoveryQueue int
	// PeerTimeout bounds one request to another node (default 30 s).
	PeerTimeout time.Duration
	// VerifyReads makes sliver GETs verify the sliver against its metadata before serving it
	// (a sliver that fails is quarantined and rebuilt). Recovery symbols are always verified.
	VerifyReads bool
}

func (c *Config) setDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:0"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.MaxPendingBytes == 0 {
		c.MaxPendingBytes = 256 << 20
	}
	if c.PendingTTL == 0 {
		c.PendingTTL = 10 * time.Minute
	}
	if c.MaxWaitForRegistration == 0 {
		c.MaxWaitForRegistration = 10 * time.Second
	}
	if c.EventBatch == 0 {
		c.EventBatch = 500
	}
	if c.EventPoll == 0 {
		c.EventPoll = 2 * time.Second
	}
	if c.MaxSymbolRequests == 0 {
		c.MaxSymbolRequests = runtime.GOMAXPROCS(0)
	}
	if c.MaxVerifications == 0 {
		c.MaxVerifications = runtime.GOMAXPROCS(0)
	}
	if c.RecoveryWorkers == 0 {
		c.RecoveryWorkers = 2
	}
	if c.RecoveryFetches == 0 {
		c.RecoveryFetches = 8
	}
	if c.RecoveryHedge == 0 {
		c.RecoveryHedge = 5 * time.Second
	}
	if c.RecoveryDelay == 0 {
		c.RecoveryDelay = 30 * time.Second
	}
	if c.RecoveryBackoff == 0 {
		c.RecoveryBackoff = time.Second
	}
	if c.RecoveryMaxBackoff == 0 {
		c.RecoveryMaxBackoff = 5 * time.Minute
	}
	if c.RecoverySweep == 0 {
		c.RecoverySweep = 10 * time.Minute
	}
	if c.MaxRecoveryQueue == 0 {
		c.MaxRecoveryQueue = 100_000
	}
	if c.PeerTimeout == 0 {
		c.PeerTimeout = 30 * time.Second
	}
}

// Validate reports a configuration the node cannot run with.
func (c *Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("storagenode: config: no store")
	case c.ControlPlane == nil:
		return errors.New("storagenode: config: no control plane")
	case c.ProtocolKey == nil:
		return errors.New("storagenode: config: no protocol key")
	case len(c.Certificate.Certificate) == 0:
		return errors.New("storagenode: config: no TLS certificate")
	case c.MaxPendingBytes < 0 || c.PendingTTL < 0 || c.MaxWaitForRegistration < 0 || c.EventBatch < 0 ||
		c.EventPoll < 0 || c.MaxSymbolRequests < 0 || c.MaxVerifications < 0 || c.RecoveryWorkers < 0 ||
		c.RecoveryFetches < 0 || c.RecoveryHedge < 0 || c.RecoveryDelay < 0 || c.RecoveryBackoff < 0 || c.RecoveryMaxBackoff < 0 ||
		c.RecoverySweep < 0 || c.MaxRecoveryQueue < 0 || c.PeerTimeout < 0:
		return errors.New("storagenode: config: negative limit")
	}
	return nil
}

// Node is a running storage node.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store *nodestore.Store
	cp    ControlPlane
	key   *crypto.BLSSecretKey
	// frameBufs recycles the payload buffers of batched uploads.
	frameBufs bufPool
	// rounds holds the durations of recent recovery rounds (see roundTimes).
	rounds  roundTimes
	pub     crypto.BLSPublicKey
	m       *metrics
	pending *pendingBuffer
	started time.Time

	ln, metricsLn net.Listener
	srv           *http.Server
	metricsSrv    *http.Server

	symbolSem chan struct{}
	verifySem chan struct{}

	account *crypto.AccountKey
	// peers reaches the other members (and caches the encoders).
	peers *nodeclient.Pool
	rec   *recoveryQueue
	txMu  sync.Mutex // serializes the node's transactions (nonces)

	mu      sync.RWMutex
	view    *epochView    // current committee view (nil until known)
	cursor  uint64        // next event to read
	applied uint64        // events applied (cursor seq + 1), for health
	latest  uint64        // highest event seq seen on the control plane + 1
	changed chan struct{} // closed and replaced whenever events were applied
}

// epochView is the node's committee view for one epoch.
type epochView struct {
	epoch     uint32
	committee *cpapi.Committee
	nShards   int
	owned     map[uint16]bool
	shards    []uint16 // owned, increasing
	enc       *redstuff.Encoder
}

// New builds a node and opens its listeners (Addr is known once New returns). Run serves.
func New(cfg Config) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, log: cfg.Logger, store: cfg.Store, cp: cfg.ControlPlane, key: cfg.ProtocolKey,
		pub: cfg.ProtocolKey.PublicKey(), started: time.Now(),
		symbolSem: make(chan struct{}, cfg.MaxSymbolRequests),
		verifySem: make(chan struct{}, cfg.MaxVerifications),
		changed:   make(chan struct{}),
		account:   cfg.AccountKey,
		peers: nodeclient.NewPool(nodeclient.Options{HTTP2: true, MaxConnsPerNode: 16, Timeout: cfg.PeerTimeout,
			Logger: cfg.Logger}),
		rec: newRecoveryQueue(cfg.MaxRecoveryQueue),
	}
	var err error
	if n.account == nil {
		if n.account, err = derivedAccountKey(cfg.ProtocolKey); err != nil {
			return nil, err
		}
	}
	if n.m, err = newMetrics(cfg.Registry); err != nil {
		return nil, err
	}
	n.pending = newPendingBuffer(cfg.MaxPendingBytes, cfg.PendingTTL)
	if cfg.Listener != nil {
		n.ln = cfg.Listener
	} else if n.ln, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		return nil, fmt.Errorf("storagenode: listen: %w", err)
	}
	n.srv = &http.Server{
		Handler:           n.Handler(),
		TLSConfig:         nodetls.ServerConfig(cfg.Certificate),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	if cfg.MetricsAddr != "" {
		if n.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			n.ln.Close()
			return nil, fmt.Errorf("storagenode: metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle(api.RouteMetricsPath, promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
		n.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	return n, nil
}

// Addr returns the HTTPS listen address.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// MetricsAddr returns the metrics listen address, or "" if disabled.
func (n *Node) MetricsAddr() string {
	if n.metricsLn == nil {
		return ""
	}
	return n.metricsLn.Addr().String()
}

// WrapHandler replaces the node's HTTP handler by wrap(handler) (tests put a lying node's
// handler around the honest one, see package byzantine). Call it before Run.
func (n *Node) WrapHandler(wrap func(http.Handler) http.Handler) {
	n.srv.Handler = wrap(n.srv.Handler)
}

// PublicKey returns the node's BLS public key.
func (n *Node) PublicKey() crypto.BLSPublicKey { return n.pub }

// Run loads the node's state, then follows control-plane events and serves HTTPS (and
// metrics) until ctx ends; it returns nil on a clean shutdown. The store is not closed.
func (n *Node) Run(ctx context.Context) error {
	if err := n.init(ctx); err != nil {
		n.ln.Close()
		if n.metricsLn != nil {
			n.metricsLn.Close()
		}
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := n.srv.ServeTLS(n.ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("storagenode: serve: %w", err)
		}
		return nil
	})
	if n.metricsSrv != nil {
		g.Go(func() error {
			if err := n.metricsSrv.Serve(n.metricsLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("storagenode: metrics: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error { return n.followEvents(gctx) })
	g.Go(func() error { n.housekeeping(gctx); return nil })
	if !n.cfg.DisableRecovery {
		g.Go(func() error { n.runRecovery(gctx); return nil })
	}
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := n.srv.Shutdown(sctx)
		if n.metricsSrv != nil {
			err = errors.Join(err, n.metricsSrv.Shutdown(sctx))
		}
		if err != nil {
			n.srv.Close()
		}
		return nil
	})
	err := g.Wait()
	n.peers.Close()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// init reads the event cursor and the current committee.
func (n *Node) init(ctx context.Context) error {
	seq, ok, err := n.store.EventCursor(ctx)
	if err != nil {
		return fmt.Errorf("storagenode: %w", err)
	}
	if ok {
		n.cursor, n.applied = seq+1, seq+1
	}
	n.log.Info("resuming events", "from", n.cursor)
	info, err := n.cp.Info(ctx)
	if err != nil {
		return fmt.Errorf("storagenode: control plane info: %w", err)
	}
	n.mu.Lock()
	n.latest = info.EventSeq
	n.mu.Unlock()
	if err := n.refreshCommittee(ctx, info.Epoch); err != nil && !errors.Is(err, ErrNoCommittee) {
		return err
	}
	return nil
}

// refreshCommittee loads the committee of epoch and makes it the node's view if it is not
// older than the current one.
func (n *Node) refreshCommittee(ctx context.Context, epoch uint32) error {
	n.mu.RLock()
	cur := n.view
	n.mu.RUnlock()
	if cur != nil && cur.epoch >= epoch {
		return nil
	}
	c, err := n.cp.Committee(ctx, epoch)
	if err != nil {
		return fmt.Errorf("storagenode: committee %d: %w", epoch, err)
	}
	v := &epochView{epoch: c.Epoch, committee: c, nShards: c.NShards, owned: map[uint16]bool{}}
	for _, m := range c.Members {
		if crypto.BLSPublicKey(m.BLSPublicKey) == n.pub {
			for _, s := range m.Shards {
				v.owned[s] = true
			}
		}
	}
	for s := 0; s < c.NShards; s++ {
		if v.owned[uint16(s)] {
			v.shards = append(v.shards, uint16(s))
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.view != nil && n.view.epoch >= v.epoch {
		return nil
	}
	if v.enc, err = n.peers.Encoder(c.NShards); err != nil {
		return fmt.Errorf("storagenode: %w", err)
	}
	n.view = v
	n.m.epoch.Set(float64(v.epoch))
	n.m.ownedShards.Set(float64(len(v.shards)))
	n.log.Info("committee view", "epoch", v.epoch, "shards", len(v.shards), "n", v.nShards)
	return nil
}

// currentView returns the committee view or ErrNotInCommittee.
func (n *Node) currentView() (*epochView, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.view == nil {
		return nil, ErrNotInCommittee
	}
	return n.view, nil
}

// housekeeping runs garbage collection and the scrubber on their intervals.
func (n *Node) housekeeping(ctx context.Context) {
	tick := func(d time.Duration) <-chan time.Time {
		if d <= 0 {
			return nil
		}
		return time.NewTicker(d).C
	}
	gc, scrub, sweep := tick(n.cfg.GCInterval), tick(n.cfg.ScrubInterval), tick(time.Minute)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep:
			n.pending.sweep(time.Now())
			n.m.pendingBytes.Set(float64(n.pending.size()))
		case <-gc:
			v, err := n.currentView()
			if err != nil {
				continue
			}
			rep, err := n.store.CollectGarbage(ctx, v.epoch)
			if err != nil && ctx.Err() == nil {
				n.log.Error("garbage collection failed", "err", err)
			} else {
				n.log.Info("garbage collected", "expired", rep.Expired, "invalid", rep.Invalid)
			}
		case <-scrub:
			rep, err := n.store.Scrub(ctx, n.scrubVerify)
			if err != nil && ctx.Err() == nil {
				n.log.Error("scrub failed", "err", err)
			}
			n.m.scrubQuarantined.Add(float64(len(rep.Quarantined)))
			for _, ref := range rep.Quarantined {
				n.scheduleRecovery(ref.BlobID, 0)
			}
		}
	}
}

// scrubVerify re-verifies a stored sliver against its stored metadata.
func (n *Node) scrubVerify(ref nodestore.SliverRef, sl redstuff.Sliver) error {
	md, err := n.store.Metadata(context.Background(), ref.BlobID)
	if err != nil {
		if errors.Is(err, nodestore.ErrNotFound) {
			return nodestore.ErrSkipSliver
		}
		return fmt.Errorf("%w: %w", nodestore.ErrSkipSliver, err)
	}
	enc, err := n.peers.Encoder(len(md.Metadata.Hashes))
	if err != nil {
		return fmt.Errorf("%w: %w", nodestore.ErrSkipSliver, err)
	}
	return verifySliver(enc, md, sl)
}
