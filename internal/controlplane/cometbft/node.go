package cometbft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	sm "github.com/cometbft/cometbft/state"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/viper"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane"
)

// Errors of the driver.
var (
	ErrClosed       = errors.New("cometbft: node closed")
	ErrGenesisDiffs = errors.New("cometbft: the data holds a different genesis")
	ErrCorrupt      = errors.New("cometbft: application data corrupt")
)

// Options configure a Node. The CometBFT configuration itself (ports, peers, timeouts) is in
// HOME/config/config.toml, written by InitNetwork.
type Options struct {
	// Logger receives the driver's records and CometBFT's (slog.Default() if nil).
	Logger *slog.Logger
	// CometLevel is the lowest level of CometBFT's own records that reach Logger (default
	// warn: CometBFT reports every block and peer at info).
	CometLevel *slog.Level
	// SnapshotInterval is the number of blocks between state snapshots (default 500); a
	// restart replays at most that many blocks from CometBFT's block store.
	SnapshotInterval uint64
	// RetainBlocks is how many recent blocks CometBFT keeps for peers that catch up (default
	// 100000, about six hours at four blocks a second); older blocks are pruned, never those
	// after the last snapshot. A node that falls further behind catches up by state sync
	// (PrepareStateSync).
	RetainBlocks uint64
	// RetainEvents is how many of the newest events are kept for followers at least (default
	// 100000); older ones are pruned once a snapshot covers them.
	RetainEvents uint64
	// EventSegmentBytes is the event log's segment size, the unit of pruning (default
	// eventlog.DefaultSegmentBytes).
	EventSegmentBytes int64
}

// Node is a running validator (or full node): CometBFT in-process with the Floe application.
// It implements cpserver.Backend.
type Node struct {
	log  *slog.Logger
	app  *App
	node *nm.Node
	dbs  *dbSet
	home string
	// stopping demotes CometBFT's log records during shutdown.
	stopping *atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

// Open starts the node whose home directory InitNetwork wrote.
func Open(home string, opts *Options) (*Node, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cometLevel := slog.LevelWarn
	if o.CometLevel != nil {
		cometLevel = *o.CometLevel
	}
	if o.SnapshotInterval == 0 {
		o.SnapshotInterval = 500
	}
	if o.RetainBlocks == 0 {
		o.RetainBlocks = 100000
	}
	if o.RetainEvents == 0 {
		o.RetainEvents = 100000
	}
	cfg, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	genDoc, err := cmttypes.GenesisDocFromFile(cfg.GenesisFile())
	if err != nil {
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	var g controlplane.Genesis
	if err := json.Unmarshal(genDoc.AppState, &g); err != nil {
		return nil, fmt.Errorf("cometbft: the app_state of %s is no Floe genesis: %w", cfg.GenesisFile(), err)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	app, err := newApp(filepath.Join(cfg.DBDir(), "floe"), &g, appOptions{logger: o.Logger,
		snapshotInterval: o.SnapshotInterval, retainBlocks: o.RetainBlocks, retainEvents: o.RetainEvents,
		eventSegmentBytes: o.EventSegmentBytes})
	if err != nil {
		return nil, err
	}
	pv := privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		app.close()
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	dbs := &dbSet{}
	n := &Node{log: o.Logger, app: app, dbs: dbs, home: home, stopping: &atomic.Bool{}}
	logger := slogLogger{l: o.Logger.With("component", "cometbft"), min: cometLevel, stopping: n.stopping}
	node, err := nm.NewNode(cfg, pv, nodeKey, proxy.NewConnSyncLocalClientCreator(app),
		func() (*cmttypes.GenesisDoc, error) { return genDoc, nil }, dbs.provider,
		nm.DefaultMetricsProvider(cfg.Instrumentation), logger)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("cometbft: %w", err), dbs.close(), app.close())
	}
	if err := node.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("cometbft: %w", err), stopNode(node), dbs.close(), app.close())
	}
	n.node = node
	o.Logger.Info("validator started", "home", home, "node_id", string(nodeKey.ID()), "height", app.committedHeight())
	return n, nil
}

// LoadConfig reads HOME/config/config.toml over CometBFT's defaults.
func LoadConfig(home string) (*cmtcfg.Config, error) {
	v := viper.New()
	v.SetConfigFile(filepath.Join(home, "config", "config.toml"))
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("cometbft: reading the configuration: %w", err)
	}
	cfg := cmtcfg.DefaultConfig()
	if err := v.Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("cometbft: parsing the configuration: %w", err)
	}
	cfg.SetRoot(home)
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("cometbft: invalid configuration: %w", err)
	}
	return cfg, nil
}

// stopNode stops CometBFT and waits until every service of it has stopped.
func stopNode(node *nm.Node) error {
	if !node.IsRunning() {
		return nil
	}
	err := node.Stop()
	node.Wait()
	if err != nil {
		return fmt.Errorf("cometbft: stopping the node: %w", err)
	}
	return nil
}

// Close stops CometBFT, then (and only then: closing them under running goroutines makes
// CometBFT panic) closes its databases, and finally writes a state snapshot.
// Submissions still waiting fail with ErrClosed.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.stopping.Store(true)
		n.app.closeOnce.Do(func() { close(n.app.closed) })
		n.closeErr = errors.Join(stopNode(n.node), n.dbs.close(), n.app.close())
	})
	return n.closeErr
}

// Submit checks a signed transaction, passes it to the local CometBFT mempool (which gossips
// it to the other validators) and waits for its outcome in a committed block. A transaction
// that fails admission is rejected at once with the same error as the embedded driver's.
func (n *Node) Submit(ctx context.Context, raw []byte) (*cpapi.Included, error) {
	select {
	case <-n.app.closed:
		return nil, ErrClosed
	default:
	}
	vt, err := n.app.check(raw)
	if err != nil {
		return nil, err
	}
	h := vt.Hash()
	ch := n.app.wait(h)
	defer n.app.unwait(h, ch)
	n.app.rememberVerified(vt)
	rejected := make(chan error, 1)
	err = n.node.Mempool().CheckTx(raw, func(r *abci.ResponseCheckTx) {
		if r.Code != abci.CodeTypeOK {
			rejected <- checkTxError(r)
		}
	}, mempool.TxInfo{})
	// A transaction already in the mempool's cache is pending or committed: wait for it.
	if err != nil && !errors.Is(err, mempool.ErrTxInCache) {
		return nil, fmt.Errorf("cometbft: mempool: %w", err)
	}
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, o.err
		}
		return &o.inc, nil
	case err := <-rejected:
		return nil, err
	case <-n.app.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// checkTxError turns a CheckTx rejection back into the state machine's error.
func checkTxError(r *abci.ResponseCheckTx) error {
	if e := controlplane.ErrorForCode(r.Info); e != nil {
		return fmt.Errorf("%w: %s", e, r.Log)
	}
	return fmt.Errorf("cometbft: transaction rejected: %s", r.Log)
}

// View runs f on the latest state with its app hash; f must not keep the state.
func (n *Node) View(f func(s *controlplane.State, appHash controlplane.Hash)) { n.app.view(f) }

// Events returns up to max committed events from sequence number from on, waiting until ctx
// ends if there are none yet.
func (n *Node) Events(ctx context.Context, from uint64, max int) ([]cpapi.Event, error) {
	return n.app.eventsFrom(ctx, from, max)
}

// ConsensusValidators returns CometBFT's current validator set: voting power by Ed25519
// consensus public key.
func (n *Node) ConsensusValidators() (map[[32]byte]int64, error) {
	n.dbs.mu.RLock()
	db := n.dbs.state
	n.dbs.mu.RUnlock()
	if db == nil {
		return nil, ErrClosed
	}
	st, err := sm.NewStore(db, sm.StoreOptions{DiscardABCIResponses: true}).Load()
	if err != nil {
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	out := map[[32]byte]int64{}
	for _, v := range st.Validators.Validators {
		var k [32]byte
		copy(k[:], v.PubKey.Bytes())
		out[k] = v.VotingPower
	}
	return out, nil
}

// NodeID returns CometBFT's node ID (the P2P identity).
func (n *Node) NodeID() string { return string(n.node.NodeInfo().ID()) }

// Peers returns the number of connected peers.
func (n *Node) Peers() int { return n.node.Switch().Peers().Size() }

func (a *App) committedHeight() uint64 {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.committed
}

// dbSet opens CometBFT's databases and closes them itself, after the node has stopped.
// CometBFT's own Close calls during its OnStop are ignored, and so is anything its goroutines
// still do once the databases are closed (some per-peer routines outlive Node.Wait and panic
// on a closed database): reads find nothing, writes are dropped, as if the process had
// stopped at that moment, which CometBFT's recovery handles.
type dbSet struct {
	mu     sync.RWMutex // held for reading by every database operation, for writing by close
	closed bool
	dbs    []dbm.DB
	// state is CometBFT's state database (validator sets).
	state dbm.DB
}

func (s *dbSet) provider(ctx *cmtcfg.DBContext) (dbm.DB, error) {
	db, err := cmtcfg.DefaultDBProvider(ctx)
	if err != nil {
		return nil, err
	}
	g := &guardedDB{set: s, db: db}
	s.mu.Lock()
	s.dbs = append(s.dbs, db)
	if ctx.ID == "state" {
		s.state = g
	}
	s.mu.Unlock()
	return g, nil
}

func (s *dbSet) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, db := range s.dbs {
		if err := db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cometbft: closing a database: %w", err))
		}
	}
	s.dbs, s.closed = nil, true
	return errors.Join(errs...)
}

// guardedDB is one of CometBFT's databases under its dbSet's guard.
type guardedDB struct {
	set *dbSet
	db  dbm.DB
}

// open takes the read guard and reports whether the database is still open; the caller
// releases the guard with s.set.mu.RUnlock.
func (g *guardedDB) open() bool {
	g.set.mu.RLock()
	return !g.set.closed
}

func (g *guardedDB) Get(k []byte) ([]byte, error) {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return nil, nil
	}
	return g.db.Get(k)
}

func (g *guardedDB) Has(k []byte) (bool, error) {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return false, nil
	}
	return g.db.Has(k)
}

func (g *guardedDB) Set(k, v []byte) error {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return nil
	}
	return g.db.Set(k, v)
}

func (g *guardedDB) SetSync(k, v []byte) error {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return nil
	}
	return g.db.SetSync(k, v)
}

func (g *guardedDB) Delete(k []byte) error {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return nil
	}
	return g.db.Delete(k)
}

func (g *guardedDB) DeleteSync(k []byte) error {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return nil
	}
	return g.db.DeleteSync(k)
}

func (g *guardedDB) Iterator(start, end []byte) (dbm.Iterator, error) {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return dbm.NewMemDB().Iterator(start, end)
	}
	return g.db.Iterator(start, end)
}

func (g *guardedDB) ReverseIterator(start, end []byte) (dbm.Iterator, error) {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return dbm.NewMemDB().ReverseIterator(start, end)
	}
	return g.db.ReverseIterator(start, end)
}

// Close does nothing: dbSet.close closes the database once the node has stopped.
func (g *guardedDB) Close() error { return nil }

func (g *guardedDB) NewBatch() dbm.Batch {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return dbm.NewMemDB().NewBatch()
	}
	return &guardedBatch{set: g.set, b: g.db.NewBatch()}
}

func (g *guardedDB) Print() error {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return nil
	}
	return g.db.Print()
}

func (g *guardedDB) Stats() map[string]string {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return map[string]string{}
	}
	return g.db.Stats()
}

func (g *guardedDB) Compact(start, end []byte) error {
	defer g.set.mu.RUnlock()
	if !g.open() {
		return nil
	}
	return g.db.Compact(start, end)
}

// guardedBatch is a batch whose writes are dropped once its database is closed.
type guardedBatch struct {
	set *dbSet
	b   dbm.Batch
}

func (b *guardedBatch) Set(k, v []byte) error { return b.b.Set(k, v) }
func (b *guardedBatch) Delete(k []byte) error { return b.b.Delete(k) }
func (b *guardedBatch) Close() error          { return b.b.Close() }

func (b *guardedBatch) Write() error {
	b.set.mu.RLock()
	defer b.set.mu.RUnlock()
	if b.set.closed {
		return nil
	}
	return b.b.Write()
}

func (b *guardedBatch) WriteSync() error {
	b.set.mu.RLock()
	defer b.set.mu.RUnlock()
	if b.set.closed {
		return nil
	}
	return b.b.WriteSync()
}
