package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/hugemem"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/redstuff"
)

// Options configure an Engine. Store, ControlPlane and ProtocolKey are required; zero limits
// take the defaults.
type Options struct {
	Store *nodestore.Store
	// ControlPlane is the control plane the node follows.
	ControlPlane ControlPlane
	// ProtocolKey is the node's BLS key; the node finds itself in committees by its public key.
	ProtocolKey *crypto.BLSSecretKey
	// AccountKey signs the node's control-plane transactions (invalid-blob certificates). If
	// nil the node uses an account key derived from its protocol key.
	AccountKey *crypto.AccountKey
	Logger     *slog.Logger
	// Registry receives the node's metrics (a fresh registry if nil).
	Registry *prometheus.Registry

	// MaxPendingBytes bounds the buffer of uploads for blobs not yet registered (default 256 MiB);
	// MaxPendingPerSource the part of it one uploader (by address) may fill (default a
	// quarter); PendingTTL is how long they wait for the registration (default 1 minute).
	MaxPendingBytes     int64
	MaxPendingPerSource int64
	PendingTTL          time.Duration
	// MaxWaitForRegistration caps wait_millis of confirmation requests (default 10 s).
	MaxWaitForRegistration time.Duration
	// EventBatch is the number of events fetched and applied at once (default 500);
	// EventPoll the long-poll duration (default 30 s: an idle node asks the control plane
	// twice a minute).
	EventBatch int
	EventPoll  time.Duration
	// MaxSymbolRequests bounds the recovery- and decoding-symbol requests served at once
	// (default GOMAXPROCS, at least 2); up to MaxSymbolWaiters more (default 64) wait up to
	// SymbolWait (default 10 s) for their turn, and the rest are refused with ErrBusy. A
	// rebuilding peer asks many of them at once: refusing them outright made it fail and back
	// off, queueing them costs only the wait.
	MaxSymbolRequests int
	MaxSymbolWaiters  int
	SymbolWait        time.Duration
	// MaxVerifications bounds concurrent sliver verifications (default GOMAXPROCS).
	MaxVerifications int
	// FrameMemory bounds the memory mapped with huge pages for uploaded slivers' buffers
	// (default 128 MiB; -1: none, every buffer from the Go heap). See internal/hugemem.
	FrameMemory int
	// ScrubInterval and GCInterval schedule the scrubber and garbage collection (0: never).
	ScrubInterval time.Duration
	GCInterval    time.Duration

	// DisableRecovery turns off sliver recovery (the node still serves recovery symbols and
	// inconsistency proofs).
	DisableRecovery bool
	// RecoveryWorkers is the number of blobs recovered at once (default 16), as long as their
	// estimated memory (symbols and rebuilt slivers) fits in RecoveryMemory (default 256 MiB; a
	// blob larger than that is recovered alone); RecoveryFetches the number of concurrent peer
	// requests of one blob's recovery (default 8). A blob's recovery is a few round trips to
	// peers, mostly waiting: a node wiped at load 20-28 rebuilt one small blob a second with two
	// workers (2944 blobs would have taken 48 minutes).
	RecoveryWorkers int
	RecoveryMemory  int64
	RecoveryFetches int
	// RecoveryHedge is the least time a recovery waits for a peer request before it asks other
	// peers in place of one that has not answered; it waits four times the median of the
	// recent requests if that is longer (default 5 s).
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
	// VerifyReads makes sliver reads verify the sliver against its metadata before serving it
	// (a sliver that fails is quarantined and rebuilt). Recovery symbols are always verified.
	VerifyReads bool
	// ChallengePoll is how often the node checks the storage challenges of its epoch besides
	// the control-plane events that announce them, while one of its rounds is open or a pass
	// failed (default 5 s); ChallengeIdlePoll once its rounds are settled (default 30 s,
	// rounded to a multiple of ChallengePoll; challenge.go).
	ChallengePoll     time.Duration
	ChallengeIdlePoll time.Duration
	// SyncShardPage is the number of slivers a gained shard's transfer asks per sync_shard page
	// (default and most MaxSyncShardSlivers; see migrate.go).
	SyncShardPage int
	// SyncShardPageBytes bounds the sliver bytes of a sync_shard page this node serves
	// (default and most 32 MiB; a page has at least one sliver).
	SyncShardPageBytes int
}

// SetDefaults fills the zero fields.
func (o *Options) SetDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if o.MaxPendingBytes == 0 {
		o.MaxPendingBytes = 256 << 20
	}
	if o.MaxPendingPerSource == 0 {
		o.MaxPendingPerSource = max(o.MaxPendingBytes/4, 1)
	}
	setDur(&o.PendingTTL, time.Minute)
	setInt(&o.FrameMemory, 128<<20)
	setDur(&o.MaxWaitForRegistration, 10*time.Second)
	setInt(&o.EventBatch, 500)
	setDur(&o.EventPoll, 30*time.Second)
	setInt(&o.MaxSymbolRequests, max(runtime.GOMAXPROCS(0), 2))
	setInt(&o.MaxSymbolWaiters, 64)
	setDur(&o.SymbolWait, 10*time.Second)
	setInt(&o.MaxVerifications, runtime.GOMAXPROCS(0))
	setInt(&o.RecoveryWorkers, 16)
	if o.RecoveryMemory == 0 {
		o.RecoveryMemory = 256 << 20
	}
	setInt(&o.RecoveryFetches, 8)
	setDur(&o.RecoveryHedge, 5*time.Second)
	setDur(&o.RecoveryDelay, 30*time.Second)
	setDur(&o.RecoveryBackoff, time.Second)
	setDur(&o.RecoveryMaxBackoff, 5*time.Minute)
	setDur(&o.RecoverySweep, 10*time.Minute)
	setInt(&o.MaxRecoveryQueue, 100_000)
	setDur(&o.PeerTimeout, 30*time.Second)
	setDur(&o.ChallengePoll, 5*time.Second)
	setDur(&o.ChallengeIdlePoll, 30*time.Second)
	setInt(&o.SyncShardPage, MaxSyncShardSlivers)
	setInt(&o.SyncShardPageBytes, maxSyncShardBytes)
	o.SyncShardPageBytes = min(o.SyncShardPageBytes, maxSyncShardBytes)
}

// Validate reports options the engine cannot run with.
func (o *Options) Validate() error {
	switch {
	case o.Store == nil:
		return errors.New("storagenode: config: no store")
	case o.ControlPlane == nil:
		return errors.New("storagenode: config: no control plane")
	case o.ProtocolKey == nil:
		return errors.New("storagenode: config: no protocol key")
	case o.MaxPendingBytes < 0 || o.MaxPendingPerSource < 0 || o.PendingTTL < 0 || o.MaxWaitForRegistration < 0 || o.EventBatch < 0 ||
		o.EventPoll < 0 || o.MaxSymbolRequests < 0 || o.MaxSymbolWaiters < 0 || o.SymbolWait < 0 || o.RecoveryMemory < 0 || o.MaxVerifications < 0 || o.RecoveryWorkers < 0 ||
		o.RecoveryFetches < 0 || o.RecoveryHedge < 0 || o.RecoveryDelay < 0 || o.RecoveryBackoff < 0 || o.RecoveryMaxBackoff < 0 ||
		o.RecoverySweep < 0 || o.MaxRecoveryQueue < 0 || o.PeerTimeout < 0 || o.ChallengePoll < 0 || o.ChallengeIdlePoll < 0 || o.SyncShardPage < 0 || o.SyncShardPageBytes < 0:
		return errors.New("storagenode: config: negative limit")
	}
	return nil
}

// Engine is what a storage node does. Its parts are separate types over a shared core:
// Uploads, Reads, Confirmations, Inconsistency (the requests a node answers), and the
// background work of Run: following events, recovery, housekeeping.
type Engine struct {
	*core
	Uploads       *Uploads
	Reads         *Reads
	Confirmations *Confirmations
	Inconsistency *Inconsistency
	Challenges    *Challenges
	Migrations    *Migrations
	recovery      *Recovery
	events        *Events
}

// core is the state the parts share: the store, the committee view and event progress, the
// pending-upload buffer, peers, keys and metrics.
type core struct {
	cfg     Options
	log     *slog.Logger
	store   *nodestore.Store
	cp      ControlPlane
	key     *crypto.BLSSecretKey
	pub     crypto.BLSPublicKey
	account *crypto.AccountKey
	m       *metrics
	pending *pendingBuffer
	// peers reaches the other members (and caches the encoders).
	peers   *nodeclient.Pool
	started time.Time
	// verifySem bounds the concurrent sliver verifications.
	verifySem chan struct{}
	// schedule queues a blob for recovery (a no-op when recovery is disabled); sweepNow asks
	// for a sweep over the node's blobs (after the node's shards changed).
	schedule func(id blob.ID, delay time.Duration)
	sweepNow func()
	// viewChanged tells shard migration (migrate.go) that the committee view changed.
	viewChanged func(old, cur *epochView)
	// shards tracks the state of the node's shards for its health.
	shards *shardHealth
	// challengeWake wakes the storage-challenge loop (challenge.go).
	challengeWake func()
	txMu          sync.Mutex // serializes the node's transactions (nonces)
	// newTicker starts a ticker and returns its channel and its stop (time.NewTicker's; tests
	// replace it to check that every ticker is stopped).
	newTicker func(d time.Duration) (<-chan time.Time, func())

	mu      sync.RWMutex
	view    *epochView    // current committee view (nil until known)
	cursor  uint64        // next event to read
	applied uint64        // events applied (cursor seq + 1), for health
	latest  uint64        // highest event seq seen on the control plane + 1
	height  uint64        // control-plane height of the last event applied since start (0: none yet), for health
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

// New builds an engine; Init loads its state and Run does its background work.
func New(opts Options) (*Engine, error) {
	opts.SetDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &core{
		cfg: opts, log: opts.Logger, store: opts.Store, cp: opts.ControlPlane, key: opts.ProtocolKey,
		pub: opts.ProtocolKey.PublicKey(), account: opts.AccountKey, started: time.Now(),
		verifySem: make(chan struct{}, opts.MaxVerifications),
		changed:   make(chan struct{}),
		peers: nodeclient.NewPool(nodeclient.Options{HTTP2: true, MaxConnsPerNode: 16, Timeout: opts.PeerTimeout,
			Logger: opts.Logger}),
		pending: newPendingBuffer(opts.MaxPendingBytes, opts.MaxPendingPerSource, opts.PendingTTL),
		shards:  newShardHealth(),
		newTicker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
	}
	var err error
	if c.account == nil {
		if c.account, err = derivedAccountKey(opts.ProtocolKey); err != nil {
			return nil, err
		}
	}
	if c.m, err = newMetrics(opts.Registry); err != nil {
		return nil, err
	}
	e := &Engine{core: c}
	e.Inconsistency = &Inconsistency{core: c}
	e.recovery = newRecovery(c, e.Inconsistency)
	c.schedule, c.sweepNow = e.recovery.schedule, e.recovery.requestSweep
	e.Uploads = &Uploads{core: c}
	if opts.FrameMemory > 0 {
		e.Uploads.frameBufs.arena = hugemem.New(opts.FrameMemory)
	}
	e.Reads = &Reads{core: c, symbolSem: make(chan struct{}, opts.MaxSymbolRequests)}
	e.Confirmations = &Confirmations{core: c}
	e.events = &Events{core: c, recovery: e.recovery}
	if e.Challenges, err = newChallenges(c); err != nil {
		return nil, err
	}
	c.challengeWake = e.Challenges.signal
	if e.Migrations, err = newMigrations(c, e.Inconsistency); err != nil {
		return nil, err
	}
	c.viewChanged = e.Migrations.viewChanged
	return e, nil
}

// PublicKey returns the node's BLS public key.
func (c *core) PublicKey() crypto.BLSPublicKey { return c.pub }

// Init reads the event cursor and the current committee.
func (e *Engine) Init(ctx context.Context) error {
	seq, ok, err := e.store.EventCursor(ctx)
	if err != nil {
		return fmt.Errorf("storagenode: %w", err)
	}
	e.mu.Lock()
	if ok {
		e.cursor, e.applied = seq+1, seq+1
	}
	from := e.cursor
	e.mu.Unlock()
	if ok {
		// The gauge says where the node is from the start, not only after its next event: a
		// node restarted when no more events came would report 0 for ever.
		e.m.eventCursor.Set(float64(seq))
	}
	e.log.Info("resuming events", "from", from)
	info, err := e.cp.Info(ctx)
	if err != nil {
		return fmt.Errorf("storagenode: control plane info: %w", err)
	}
	e.mu.Lock()
	e.latest = info.EventSeq
	e.mu.Unlock()
	if err := e.refreshCommittee(ctx, info.Epoch); err != nil && !errors.Is(err, ErrNoCommittee) {
		return err
	}
	return nil
}

// Run follows control-plane events, recovers missing slivers (only sweeps, to know the state
// of its shards, with DisableRecovery) and runs housekeeping until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return e.events.follow(gctx) })
	g.Go(func() error { e.housekeeping(gctx); return nil })
	g.Go(func() error { e.recovery.run(gctx); return nil })
	g.Go(func() error { e.Challenges.run(gctx); return nil })
	g.Go(func() error { e.Migrations.run(gctx); return nil })
	return g.Wait()
}

// Close releases the connections to peers.
func (e *Engine) Close() { e.peers.Close() }

// refreshCommittee loads the committee of epoch and makes it the node's view if it is not
// older than the current one.
func (c *core) refreshCommittee(ctx context.Context, epoch uint32) error {
	c.mu.RLock()
	cur := c.view
	c.mu.RUnlock()
	if cur != nil && cur.epoch >= epoch {
		return nil
	}
	cm, err := c.cp.Committee(ctx, epoch)
	if err != nil {
		return fmt.Errorf("storagenode: committee %d: %w", epoch, err)
	}
	v := &epochView{epoch: cm.Epoch, committee: cm, nShards: cm.NShards, owned: map[uint16]bool{}}
	for _, m := range cm.Members {
		if crypto.BLSPublicKey(m.BLSPublicKey) == c.pub {
			for _, s := range m.Shards {
				v.owned[s] = true
			}
		}
	}
	for s := 0; s < cm.NShards; s++ {
		if v.owned[uint16(s)] {
			v.shards = append(v.shards, uint16(s))
		}
	}
	if v.enc, err = c.peers.Encoder(cm.NShards); err != nil {
		return fmt.Errorf("storagenode: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.view != nil && c.view.epoch >= v.epoch {
		return nil
	}
	gained := cur == nil || !slices.Equal(cur.shards, v.shards)
	c.view = v
	if c.viewChanged != nil {
		c.viewChanged(cur, v) // before the sweep: shards to pull are not recovery's
	}
	if gained && c.sweepNow != nil {
		c.sweepNow() // the new shards are not ready until a sweep covered them
	}
	c.m.epoch.Set(float64(v.epoch))
	c.m.ownedShards.Set(float64(len(v.shards)))
	c.log.Info("committee view", "epoch", v.epoch, "shards", len(v.shards), "n", v.nShards)
	return nil
}

// currentView returns the committee view or ErrNotInCommittee.
func (c *core) currentView() (*epochView, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.view == nil {
		return nil, ErrNotInCommittee
	}
	return c.view, nil
}

// waitEvents calls done now and after each applied event batch until it returns true, the
// deadline passes or ctx ends (then it returns ctx's error).
func (c *core) waitEvents(ctx context.Context, deadline time.Time, done func() bool) error {
	for {
		changed := c.waitChange()
		if done() || !time.Now().Before(deadline) {
			return nil
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}

// waitChange returns a channel closed at the next applied event batch.
func (c *core) waitChange() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// housekeeping runs garbage collection, the scrubber and the pending buffer's sweep on their
// intervals; their tickers stop when ctx ends.
func (e *Engine) housekeeping(ctx context.Context) {
	tick := func(d time.Duration) (<-chan time.Time, func()) {
		if d <= 0 {
			return nil, func() {}
		}
		return e.newTicker(d)
	}
	gc, stopGC := tick(e.cfg.GCInterval)
	defer stopGC()
	scrub, stopScrub := tick(e.cfg.ScrubInterval)
	defer stopScrub()
	sweep, stopSweep := tick(e.pending.sweepInterval())
	defer stopSweep()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep:
			e.pending.sweep(time.Now())
			e.m.pendingBytes.Set(float64(e.pending.size()))
		case <-gc:
			v, err := e.currentView()
			if err != nil {
				continue
			}
			rep, err := e.store.CollectGarbage(ctx, v.epoch)
			if err != nil && ctx.Err() == nil {
				e.log.Error("garbage collection failed", "err", err)
			} else {
				e.log.Info("garbage collected", "expired", rep.Expired, "invalid", rep.Invalid)
			}
		case <-scrub:
			rep, err := e.store.Scrub(ctx, e.scrubVerify)
			if err != nil && ctx.Err() == nil {
				e.log.Error("scrub failed", "err", err)
			}
			e.m.scrubQuarantined.Add(float64(len(rep.Quarantined)))
			for _, ref := range rep.Quarantined {
				e.schedule(ref.BlobID, 0)
			}
		}
	}
}

// scrubVerify re-verifies a stored sliver against its stored metadata.
func (c *core) scrubVerify(ref nodestore.SliverRef, sl redstuff.Sliver) error {
	md, err := c.store.Metadata(context.Background(), ref.BlobID)
	if err != nil {
		if errors.Is(err, nodestore.ErrNotFound) {
			return nodestore.ErrSkipSliver
		}
		return fmt.Errorf("%w: %w", nodestore.ErrSkipSliver, err)
	}
	enc, err := c.peers.Encoder(len(md.Metadata.Hashes))
	if err != nil {
		return fmt.Errorf("%w: %w", nodestore.ErrSkipSliver, err)
	}
	return VerifySliver(enc, md, sl)
}
