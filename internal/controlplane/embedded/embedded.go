// Package embedded runs the control-plane state machine in one process on local disk: it
// orders submitted transactions into blocks, applies them, persists them and answers queries.
//
// # Persistence
//
// The source of truth is an append-only block log in the data directory, in segments
// blocks-<first height>.log. Each record is
//
//	u32 LE payload length || u32 LE CRC-32C of the payload || payload (JSON of one block:
//	height, block time, transactions, app hash)
//
// and is written and fsync'd before any transaction of the block is acknowledged, so a kill -9
// loses nothing that was acknowledged. Every SnapshotInterval blocks and on Close the whole
// state is written to snapshot.json (temp file, fsync, rename); then a new segment starts and
// the segments the snapshot covers are deleted, so the log holds only the blocks since the
// last snapshot. On start the snapshot is loaded (checked against its app hash) and the blocks
// after it are replayed from their transactions, each checked against its recorded app hash; a
// torn last record (a crash in the middle of an append, never acknowledged) is cut off.
// Without a snapshot the log replays from genesis (genesis.json, written once with fsync).
//
// Events are kept in events/ (package eventlog): appended at each block, synced before each
// snapshot, re-derived on start for the blocks replayed after the snapshot. After a snapshot
// the events older than both the snapshot and the newest Options.RetainEvents are pruned;
// Events asked for pruned ones returns an *eventlog.PrunedError, which the API serves as 410
// Gone so that a follower catches up from a listing of the state instead.
//
// Why a log and not Pebble: the state machine keeps its whole state in memory and is rebuilt
// deterministically from its inputs, so the only thing that must be durable is the ordered
// input. One sequential write and one fsync per block is the least a durable commit can cost, it
// group-commits every transaction of a block, and it needs no new dependency. The cost is
// replay time on start, which snapshots bound.
package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/eventlog"
	"github.com/floelabs/floe/internal/durablefile"
)

// Options configure a Chain.
type Options struct {
	// Genesis is used when the directory is new; an existing directory uses its own genesis
	// (a different one given here is an error).
	Genesis *controlplane.Genesis
	// Clock gives block times (time.Now if nil).
	Clock func() time.Time
	// MaxBlockTxs bounds the transactions per block (default 1000).
	MaxBlockTxs int
	// TickInterval is how often the chain checks whether an epoch change (or a challenge
	// round's opening) is due and, if so, makes an empty block (default 1s).
	TickInterval time.Duration
	// SnapshotInterval is the number of blocks between state snapshots (default 1000); one is
	// also written on Close. The block log keeps only the blocks since the last snapshot.
	SnapshotInterval int
	// RetainEvents is how many of the newest events are kept for followers at least (default
	// 100000); older events are pruned once a snapshot covers them.
	RetainEvents uint64
	// EventSegmentBytes is the size of the event log's segments, the unit of pruning (default
	// eventlog.DefaultSegmentBytes).
	EventSegmentBytes int64
	// Logger (slog.Default() if nil).
	Logger *slog.Logger
}

// Errors of the driver.
var (
	ErrClosed       = errors.New("embedded: chain closed")
	ErrGenesisDiffs = errors.New("embedded: the directory holds a different genesis")
	ErrCorrupt      = errors.New("embedded: block log corrupt")
	// ErrOldFormat: the directory holds a block log of an older Floe (state version 1).
	ErrOldFormat = errors.New("embedded: the directory holds data of an older Floe version (blocks.log); remove it to start a new chain")
)

type pendingTx struct {
	tx   *controlplane.VerifiedTx
	done chan cpapi.Included
}

// Chain is a running embedded control plane.
type Chain struct {
	log   *slog.Logger
	clock func() time.Time
	opts  Options

	dir        string
	snapHeight uint64 // height of the last snapshot written or loaded

	mu      sync.RWMutex
	state   *controlplane.State
	appHash controlplane.Hash
	elog    *eventlog.Log
	notify  chan struct{} // closed and replaced when a block is committed
	blog    *blockLog
	failed  error

	submit  chan pendingTx
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// Open opens or creates the chain in dir and starts producing blocks.
func Open(dir string, opts *Options) (*Chain, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxBlockTxs <= 0 {
		o.MaxBlockTxs = 1000
	}
	if o.SnapshotInterval <= 0 {
		o.SnapshotInterval = 1000
	}
	if o.TickInterval <= 0 {
		o.TickInterval = time.Second
	}
	if o.RetainEvents == 0 {
		o.RetainEvents = 100_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blocks.log")); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrOldFormat, dir)
	}
	g, err := loadOrWriteGenesis(dir, o.Genesis)
	if err != nil {
		return nil, err
	}
	st, genesisEvents, err := controlplane.NewState(g)
	if err != nil {
		return nil, err
	}
	c := &Chain{log: o.Logger, clock: o.Clock, opts: o, state: st, appHash: st.Hash(),
		notify: make(chan struct{}), submit: make(chan pendingTx, 4*o.MaxBlockTxs),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	c.dir = dir
	snap, err := loadSnapshot(dir)
	if err != nil {
		return nil, err
	}
	if snap != nil {
		rs, err := controlplane.Restore(snap.State)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if rs.Hash() != snap.AppHash || rs.Height() != snap.Height {
			return nil, fmt.Errorf("%w: snapshot state does not match its height and app hash", ErrCorrupt)
		}
		if rs.Params() != g.Params {
			return nil, fmt.Errorf("%w: snapshot of chain %q", ErrGenesisDiffs, rs.Params().ChainID)
		}
		c.state, c.appHash, c.snapHeight = rs, snap.AppHash, snap.Height
	}
	// A log that starts after the state's height has lost blocks (or the snapshot that covered
	// them): refuse before changing anything.
	if segs, err := listSegments(dir); err != nil {
		return nil, err
	} else if len(segs) > 0 && segs[0] > c.state.Height()+1 {
		return nil, fmt.Errorf("%w: the block log starts at height %d and no snapshot covers the blocks before it", ErrCorrupt, segs[0])
	}
	// The event log keeps the events the snapshot's state emitted (synced before it was
	// written); those of later blocks are cut off and re-derived by the replay below. Without a
	// snapshot everything replays from genesis.
	keep := uint64(0)
	if snap != nil {
		keep = c.state.EventSeq()
	}
	elog, err := eventlog.Open(filepath.Join(dir, "events"), keep, &eventlog.Options{SegmentBytes: o.EventSegmentBytes})
	if err != nil {
		return nil, err
	}
	c.elog = elog
	if snap == nil {
		if err := elog.Append(genesisEvents); err != nil {
			elog.Close()
			return nil, err
		}
	}
	blog, err := openBlockLog(dir, c.state.Height()+1, func(b *block) error {
		res, err := c.state.ApplyBlock(b.Height, time.UnixMilli(b.TimeMs), b.Txs)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if res.AppHash != b.AppHash {
			return fmt.Errorf("%w: block %d replays to app hash %s, log says %s", ErrCorrupt, b.Height, res.AppHash, b.AppHash)
		}
		c.appHash = res.AppHash
		return c.elog.Append(res.Events())
	})
	if err != nil {
		elog.Close()
		return nil, err
	}
	c.blog = blog
	c.log.Info("control plane opened", "dir", dir, "height", c.state.Height(), "epoch", c.state.Epoch(), "app_hash", c.appHash.String())
	go c.run()
	return c, nil
}

func loadOrWriteGenesis(dir string, g *controlplane.Genesis) (*controlplane.Genesis, error) {
	path := filepath.Join(dir, "genesis.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if g == nil {
			return nil, fmt.Errorf("embedded: %s has no genesis and none was given", dir)
		}
		if err := g.Validate(); err != nil {
			return nil, err
		}
		data, err := json.MarshalIndent(g, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
		if err := durablefile.WriteFile(path, data, 0o644); err != nil {
			return nil, err
		}
		return g, nil
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	var stored controlplane.Genesis
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, fmt.Errorf("embedded: %s: %w", path, err)
	}
	if g != nil {
		want, _ := json.Marshal(g)
		have, _ := json.Marshal(&stored)
		if string(want) != string(have) {
			return nil, ErrGenesisDiffs
		}
	}
	return &stored, nil
}

// Close stops block production and closes the log. Pending submissions fail with ErrClosed.
func (c *Chain) Close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.stopped
	c.mu.Lock()
	defer c.mu.Unlock()
	var snapErr error
	if c.failed == nil && c.state.Height() > c.snapHeight {
		snapErr = c.writeSnapshot()
	}
	return errors.Join(snapErr, c.blog.Close(), c.elog.Close())
}

// Submit checks a signed transaction, waits for it to be included in a durable block and
// returns its outcome. A transaction that fails the admission check (bad encoding, signature,
// chain or used nonce) is rejected at once with that error and never enters a block.
func (c *Chain) Submit(ctx context.Context, raw []byte) (*cpapi.Included, error) {
	// The signature check runs outside the lock, in the submitter's goroutine, so admission
	// verifies in parallel and the block loop does not verify again.
	vt, err := controlplane.VerifyTx(raw)
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	err = c.state.CheckVerified(vt)
	failed := c.failed
	c.mu.RUnlock()
	if failed != nil {
		return nil, failed
	}
	if err != nil {
		return nil, err
	}
	select {
	case <-c.stop:
		return nil, ErrClosed
	default:
	}
	p := pendingTx{tx: vt, done: make(chan cpapi.Included, 1)}
	select {
	case c.submit <- p:
	case <-c.stop:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case o, ok := <-p.done:
		if !ok {
			return nil, ErrClosed
		}
		return &o, nil
	case <-c.stopped:
		// Block production ended; the transaction was committed only if its outcome is there.
		select {
		case o, ok := <-p.done:
			if ok {
				return &o, nil
			}
		default:
		}
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Chain) run() {
	defer close(c.stopped)
	tick := time.NewTicker(c.opts.TickInterval)
	defer tick.Stop()
	for {
		var batch []pendingTx
		select {
		case <-c.stop:
			c.drain()
			return
		case p := <-c.submit:
			batch = append(batch, p)
		more:
			for len(batch) < c.opts.MaxBlockTxs {
				select {
				case p := <-c.submit:
					batch = append(batch, p)
				default:
					break more
				}
			}
		case <-tick.C:
			c.mu.RLock()
			due := c.state.NextDueMs() <= c.clock().UnixMilli()
			c.mu.RUnlock()
			if !due {
				continue
			}
		}
		if err := c.commit(batch); err != nil {
			c.log.Error("control plane stopped: block not committed", "err", err)
			c.mu.Lock()
			c.failed = err
			c.mu.Unlock()
			for _, p := range batch {
				close(p.done)
			}
			c.drain()
			<-c.stop
			return
		}
	}
}

func (c *Chain) drain() {
	for {
		select {
		case p := <-c.submit:
			close(p.done)
		default:
			return
		}
	}
}

func (c *Chain) commit(batch []pendingTx) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	txs := make([][]byte, len(batch))
	vtxs := make([]*controlplane.VerifiedTx, len(batch))
	for i, p := range batch {
		txs[i], vtxs[i] = p.tx.Raw(), p.tx
	}
	now := c.clock().UnixMilli()
	if last := c.state.TimeMs(); now < last {
		now = last
	}
	height := c.state.Height() + 1
	// The block is durable before any submitter hears of it. If the write fails the driver
	// stops taking transactions (c.failed); a restart replays only what is on disk.
	res, err := c.state.ApplyVerifiedBlock(height, time.UnixMilli(now), vtxs)
	if err != nil {
		return err
	}
	if err := c.blog.Append(&block{Height: height, TimeMs: now, Txs: txs, AppHash: res.AppHash}); err != nil {
		return err
	}
	c.appHash = res.AppHash
	if err := c.elog.Append(res.Events()); err != nil {
		// The block is durable; its events are re-derived on restart.
		return err
	}
	close(c.notify)
	c.notify = make(chan struct{})
	for i, p := range batch {
		p.done <- res.Included(i)
	}
	if height-c.snapHeight >= uint64(c.opts.SnapshotInterval) {
		if err := c.writeSnapshot(); err != nil {
			// The log still has everything; a missing snapshot only makes restarts slower.
			c.log.Warn("writing a state snapshot", "height", height, "err", err)
		}
	}
	if len(res.BlockEvents) > 0 {
		c.log.Info("block", "height", height, "epoch", res.Epoch, "txs", len(txs), "block_events", len(res.BlockEvents))
	}
	return nil
}

// View runs f with the state under a read lock; f must not keep the state.
func (c *Chain) View(f func(s *controlplane.State, appHash controlplane.Hash)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	f(c.state, c.appHash)
}

// Events returns up to max events with sequence numbers from from on, waiting up to the
// context's deadline if there are none yet. It returns an empty slice when the wait ends, and
// an *eventlog.PrunedError if from is older than the oldest retained event.
func (c *Chain) Events(ctx context.Context, from uint64, max int) ([]cpapi.Event, error) {
	if max <= 0 {
		max = 100
	}
	for {
		c.mu.RLock()
		out, err := c.elog.Range(from, max)
		notify := c.notify
		c.mu.RUnlock()
		if err != nil || len(out) > 0 {
			return out, err
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return []cpapi.Event{}, nil
		case <-c.stop:
			return nil, ErrClosed
		}
	}
}

// DiskUsage returns the bytes the block log and the event log take on disk.
func (c *Chain) DiskUsage() (blocks, events int64, err error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if blocks, err = c.blog.size(); err != nil {
		return 0, 0, err
	}
	events, err = c.elog.Size()
	return blocks, events, err
}
