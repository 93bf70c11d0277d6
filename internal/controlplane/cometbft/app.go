package cometbft

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"
	"golang.org/x/sync/errgroup"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/eventlog"
	"github.com/floelabs/floe/internal/crypto"
)

// appVersion is the ABCI application protocol version reported in Info.
const appVersion = 1

// Response codes of CheckTx and FinalizeBlock: 0 is success, codeRejected any failure (the
// Floe error code is in Info, the message in Log).
const codeRejected = 1

// codespace marks Floe's ABCI result codes.
const codespace = "floe"

// maxVerified bounds the cache of transactions verified at admission.
const maxVerified = 20000

// outcome is what a submitter waits for: the transaction's result in a committed block, or
// its eviction from the mempool.
type outcome struct {
	inc cpapi.Included
	err error
}

// finalized is a block applied by FinalizeBlock and not yet committed.
type finalized struct {
	height uint64
	timeMs int64
	res    *controlplane.BlockResult
}

// App is the ABCI++ application around the control-plane state machine. It is safe for
// concurrent use: CometBFT calls it from its consensus, mempool and query connections while
// the API reads the state through View and Events.
type App struct {
	abci.BaseApplication

	log              *slog.Logger
	dir              string
	genesis          *controlplane.Genesis
	snapshotInterval uint64
	retainBlocks     uint64
	retainEvents     uint64
	// eventSegmentBytes is the event log's segment size.
	eventSegmentBytes int64

	mu         sync.RWMutex
	state      *controlplane.State
	appHash    controlplane.Hash
	committed  uint64 // height of the last committed block
	snapHeight uint64
	notify     chan struct{} // closed and replaced at each commit
	elog       *eventlog.Log
	pending    *finalized
	failed     error
	// restoring is the snapshot being received by state sync.
	restoring *restoring

	smu    sync.Mutex
	served []servedSnapshot

	vmu      sync.Mutex
	verified map[controlplane.Hash]*controlplane.VerifiedTx

	wmu     sync.Mutex
	waiters map[controlplane.Hash][]chan outcome

	closed    chan struct{}
	closeOnce sync.Once
}

// appOptions configure an App.
type appOptions struct {
	logger            *slog.Logger
	snapshotInterval  uint64
	retainBlocks      uint64
	retainEvents      uint64
	eventSegmentBytes int64
}

// newApp opens the application's data in dir (snapshot.json, events/), creating it for
// genesis g when new.
func newApp(dir string, g *controlplane.Genesis, o appOptions) (*App, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "events.log")); err == nil {
		return nil, fmt.Errorf("%w: %s holds data of an older Floe version (events.log); remove the validator's data directory and state-sync it", ErrCorrupt, dir)
	}
	st, genesisEvents, err := controlplane.NewState(g)
	if err != nil {
		return nil, err
	}
	a := &App{log: o.logger, dir: dir, genesis: g, snapshotInterval: o.snapshotInterval,
		retainBlocks: o.retainBlocks, retainEvents: o.retainEvents, eventSegmentBytes: o.eventSegmentBytes, state: st, appHash: st.Hash(), notify: make(chan struct{}),
		verified: map[controlplane.Hash]*controlplane.VerifiedTx{},
		waiters:  map[controlplane.Hash][]chan outcome{}, closed: make(chan struct{})}
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
			return nil, fmt.Errorf("%w: snapshot of chain %q, genesis of %q", ErrGenesisDiffs, rs.Params().ChainID, g.Params.ChainID)
		}
		a.state, a.appHash, a.committed, a.snapHeight = rs, snap.AppHash, snap.Height, snap.Height
	}
	// The event log holds the events up to the snapshot (it is synced before a snapshot is
	// written); events of later blocks are cut off and re-derived as CometBFT replays them.
	// Without a snapshot CometBFT replays from the first block.
	keep := uint64(0)
	if snap != nil {
		keep = a.state.EventSeq()
	}
	elog, err := eventlog.Open(filepath.Join(dir, "events"), keep, &eventlog.Options{SegmentBytes: o.eventSegmentBytes})
	if err != nil {
		return nil, err
	}
	a.elog = elog
	if snap == nil {
		if err := elog.Append(genesisEvents); err != nil {
			elog.Close()
			return nil, err
		}
	}
	if err := a.serveExisting(a.snapHeight); err != nil {
		elog.Close()
		return nil, err
	}
	return a, nil
}

// close writes a snapshot of the committed state and closes the event log. CometBFT must
// have stopped calling the application.
func (a *App) close() error {
	a.closeOnce.Do(func() { close(a.closed) })
	a.mu.Lock()
	defer a.mu.Unlock()
	var snapErr error
	if a.failed == nil && a.pending == nil && a.committed > a.snapHeight {
		snapErr = a.writeSnapshot()
	}
	return errors.Join(snapErr, a.elog.Close())
}

// Info tells CometBFT, at the handshake, which block the application has committed; it then
// replays the blocks after it.
func (a *App) Info(context.Context, *abci.RequestInfo) (*abci.ResponseInfo, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	r := &abci.ResponseInfo{Data: "floe", Version: "floe-controlplane", AppVersion: appVersion,
		LastBlockHeight: int64(a.committed)}
	if a.committed > 0 {
		r.LastBlockAppHash = bytes.Clone(a.appHash[:])
	}
	return r, nil
}

// InitChain checks that CometBFT's genesis carries this application's Floe genesis and
// returns the genesis state hash.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	var g controlplane.Genesis
	if err := json.Unmarshal(req.AppStateBytes, &g); err != nil {
		return nil, fmt.Errorf("cometbft: app_state of the genesis: %w", err)
	}
	want, _ := json.Marshal(a.genesis)
	have, _ := json.Marshal(&g)
	if !bytes.Equal(want, have) {
		return nil, ErrGenesisDiffs
	}
	if req.InitialHeight != 1 {
		return nil, fmt.Errorf("cometbft: initial height %d, Floe chains start at 1", req.InitialHeight)
	}
	if len(g.Validators) > 0 {
		// The Floe genesis lists CometBFT's genesis validators (floe chain init writes both):
		// they must agree, or the control plane would manage a set CometBFT does not run.
		have := map[controlplane.ValidatorKey]int64{}
		for _, v := range req.Validators {
			have[controlplane.ValidatorKey(v.PubKey.GetEd25519())] = v.Power
		}
		for _, v := range g.Validators {
			if have[v.PublicKey] != v.Power {
				return nil, fmt.Errorf("%w: the Floe genesis lists validator %x with power %d, CometBFT's genesis does not", ErrGenesisDiffs, v.PublicKey[:], v.Power)
			}
		}
		if len(have) != len(g.Validators) {
			return nil, fmt.Errorf("%w: CometBFT's genesis has %d validators, the Floe genesis %d", ErrGenesisDiffs, len(have), len(g.Validators))
		}
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	// When genesis nodes with validator keys hold a quorum, the first committee's members are
	// the validators from the start.
	var vals []abci.ValidatorUpdate
	for _, v := range a.state.Validators() {
		vals = append(vals, abci.Ed25519ValidatorUpdate(v.PublicKey, v.Power))
	}
	return &abci.ResponseInitChain{AppHash: bytes.Clone(a.appHash[:]), Validators: vals}, nil
}

// validatorUpdates converts the state machine's validator set changes for CometBFT.
func validatorUpdates(ups []controlplane.ValidatorUpdate) []abci.ValidatorUpdate {
	if len(ups) == 0 {
		return nil
	}
	out := make([]abci.ValidatorUpdate, len(ups))
	for i, u := range ups {
		out[i] = abci.Ed25519ValidatorUpdate(bytes.Clone(u.PublicKey[:]), u.Power)
	}
	return out
}

// CheckTx admits a transaction to the mempool: encoding, signature, chain and an unused
// nonce. A transaction that fails a recheck after a block is evicted and its submitter told.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	h := controlplane.TxHash(req.Tx)
	vt := a.lookupVerified(h)
	var err error
	if vt == nil {
		vt, err = controlplane.VerifyTx(req.Tx)
	}
	if err == nil {
		a.mu.RLock()
		err = a.state.CheckVerified(vt)
		a.mu.RUnlock()
	}
	if err != nil {
		a.vmu.Lock()
		delete(a.verified, h)
		a.vmu.Unlock()
		if req.Type == abci.CheckTxType_Recheck {
			a.deliver(h, outcome{err: err})
		}
		return &abci.ResponseCheckTx{Code: codeRejected, Codespace: codespace, Log: err.Error(), Info: controlplane.ErrorCode(err)}, nil
	}
	a.rememberVerified(vt)
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK, GasWanted: 1}, nil
}

func (a *App) lookupVerified(h controlplane.Hash) *controlplane.VerifiedTx {
	a.vmu.Lock()
	defer a.vmu.Unlock()
	return a.verified[h]
}

func (a *App) rememberVerified(vt *controlplane.VerifiedTx) {
	a.vmu.Lock()
	defer a.vmu.Unlock()
	if len(a.verified) >= maxVerified {
		// Drop an arbitrary entry: a miss only costs a signature check in FinalizeBlock.
		for k := range a.verified {
			delete(a.verified, k)
			break
		}
	}
	a.verified[vt.Hash()] = vt
}

// FinalizeBlock applies a decided block to the state machine at the block's height and time.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	vtxs, verr := a.verifyAll(req.Txs)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending != nil {
		return nil, fmt.Errorf("%w: block %d finalized before block %d was committed", controlplane.ErrBlock, req.Height, a.pending.height)
	}
	height := uint64(req.Height)
	if height != a.state.Height()+1 {
		return nil, fmt.Errorf("%w: CometBFT finalizes block %d, the state is at %d", controlplane.ErrBlock, req.Height, a.state.Height())
	}
	var res *controlplane.BlockResult
	var err error
	if verr == nil {
		res, err = a.state.ApplyVerifiedBlock(height, req.Time, vtxs)
	} else {
		// Some transaction does not verify: ApplyBlock gives it its rejection result.
		res, err = a.state.ApplyBlock(height, req.Time, req.Txs)
	}
	if err != nil {
		a.failed = err
		return nil, err
	}
	a.appHash = res.AppHash
	a.pending = &finalized{height: height, timeMs: res.TimeMs, res: res}
	out := &abci.ResponseFinalizeBlock{TxResults: make([]*abci.ExecTxResult, len(res.Results)),
		AppHash: bytes.Clone(res.AppHash[:]), ValidatorUpdates: validatorUpdates(res.ValidatorUpdates)}
	if len(out.ValidatorUpdates) > 0 {
		a.log.Info("validator set changes", "height", height, "epoch", res.Epoch, "updates", len(out.ValidatorUpdates))
	}
	for i, r := range res.Results {
		e := &abci.ExecTxResult{Code: abci.CodeTypeOK}
		if !r.OK() {
			e = &abci.ExecTxResult{Code: codeRejected, Codespace: codespace, Log: r.Error, Info: r.Code}
		}
		out.TxResults[i] = e
	}
	return out, nil
}

// verifyAll decodes and checks the signatures of a block's transactions, in parallel, using
// those already verified at admission.
func (a *App) verifyAll(txs [][]byte) ([]*controlplane.VerifiedTx, error) {
	vtxs := make([]*controlplane.VerifiedTx, len(txs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, raw := range txs {
		if vt := a.lookupVerified(controlplane.TxHash(raw)); vt != nil {
			vtxs[i] = vt
			continue
		}
		g.Go(func() error {
			vt, err := controlplane.VerifyTx(raw)
			vtxs[i] = vt
			return err
		})
	}
	return vtxs, g.Wait()
}

// Commit makes the finalized block visible to the API, hands submitters their outcomes,
// writes a snapshot every snapshotInterval blocks and tells CometBFT which blocks it may
// prune.
func (a *App) Commit(context.Context, *abci.RequestCommit) (*abci.ResponseCommit, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending
	if p == nil {
		return nil, fmt.Errorf("%w: commit without a finalized block", controlplane.ErrBlock)
	}
	a.pending = nil
	events := p.res.Events()
	if len(events) > 0 {
		if err := a.elog.Append(events); err != nil {
			a.failed = err
			return nil, err
		}
	}
	a.committed = p.height
	close(a.notify)
	a.notify = make(chan struct{})
	a.vmu.Lock()
	for _, r := range p.res.Results {
		delete(a.verified, controlplane.Hash(r.Hash))
	}
	a.vmu.Unlock()
	for i, r := range p.res.Results {
		a.deliver(controlplane.Hash(r.Hash), outcome{inc: p.res.Included(i)})
	}
	if a.snapshotInterval > 0 && p.height-a.snapHeight >= a.snapshotInterval {
		if err := a.writeSnapshot(); err != nil {
			// The blocks since the last snapshot stay in CometBFT's store (they are not
			// pruned), so a missing snapshot only makes a restart replay more.
			a.log.Warn("writing a state snapshot", "height", p.height, "err", err)
		}
	}
	if len(p.res.BlockEvents) > 0 {
		a.log.Info("block", "height", p.height, "epoch", p.res.Epoch, "block_events", len(p.res.BlockEvents))
	}
	return &abci.ResponseCommit{RetainHeight: int64(a.retainHeight())}, nil
}

// retainHeight is the lowest block CometBFT must keep: the newest retainBlocks blocks (for
// peers that catch up), and every block after the last snapshot (for replay on restart).
func (a *App) retainHeight() uint64 {
	if a.retainBlocks == 0 || a.committed <= a.retainBlocks {
		return 0
	}
	return min(a.committed-a.retainBlocks, a.snapHeight+1)
}

// deliver hands an outcome to everyone waiting for transaction h.
func (a *App) deliver(h controlplane.Hash, o outcome) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	for _, ch := range a.waiters[h] {
		ch <- o
	}
	delete(a.waiters, h)
}

// wait registers interest in transaction h; the channel receives one outcome.
func (a *App) wait(h controlplane.Hash) chan outcome {
	ch := make(chan outcome, 1)
	a.wmu.Lock()
	a.waiters[h] = append(a.waiters[h], ch)
	a.wmu.Unlock()
	return ch
}

// unwait removes a waiter that gave up.
func (a *App) unwait(h controlplane.Hash, ch chan outcome) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	ws := a.waiters[h]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(a.waiters, h)
	} else {
		a.waiters[h] = ws
	}
}

// Query answers ABCI queries (CometBFT's abci_query): "/info", "/account/ADDRESS" and
// "/blob_status/BLOB_ID", as JSON of the state machine's types. Floe's HTTP API is the main
// way to query; this serves tools that speak CometBFT RPC.
func (a *App) Query(_ context.Context, req *abci.RequestQuery) (*abci.ResponseQuery, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var v any
	path := req.Path
	switch {
	case path == "/info":
		info := a.state.Info()
		info.AppHash = cpapi.Hash(a.appHash)
		v = info
	case strings.HasPrefix(path, "/account/"):
		addr, err := crypto.ParseAddress(strings.TrimPrefix(path, "/account/"))
		if err != nil {
			return &abci.ResponseQuery{Code: codeRejected, Codespace: codespace, Log: err.Error()}, nil
		}
		v = a.state.Account(addr)
	case strings.HasPrefix(path, "/blob_status/"):
		id, err := blob.ParseID(strings.TrimPrefix(path, "/blob_status/"))
		if err != nil {
			return &abci.ResponseQuery{Code: codeRejected, Codespace: codespace, Log: err.Error()}, nil
		}
		v = a.state.BlobStatus(id)
	default:
		return &abci.ResponseQuery{Code: codeRejected, Codespace: codespace, Log: fmt.Sprintf("unknown query path %q", path)}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cometbft: %w", err)
	}
	return &abci.ResponseQuery{Code: abci.CodeTypeOK, Value: b, Height: int64(a.state.Height())}, nil
}

// view runs f on the state under a read lock.
func (a *App) view(f func(s *controlplane.State, appHash controlplane.Hash)) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	f(a.state, a.appHash)
}

// check runs the admission checks of CheckTx without touching the mempool.
func (a *App) check(raw []byte) (*controlplane.VerifiedTx, error) {
	vt, err := controlplane.VerifyTx(raw)
	if err != nil {
		return nil, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.failed != nil {
		return nil, a.failed
	}
	if err := a.state.CheckVerified(vt); err != nil {
		return nil, err
	}
	return vt, nil
}

// eventsFrom returns up to max committed events from sequence number from on, waiting until
// ctx ends if there are none yet; an *eventlog.PrunedError if from was pruned.
func (a *App) eventsFrom(ctx context.Context, from uint64, max int) ([]cpapi.Event, error) {
	if max <= 0 {
		max = 100
	}
	for {
		a.mu.RLock()
		out, err := a.elog.Range(from, max)
		notify := a.notify
		a.mu.RUnlock()
		if err != nil || len(out) > 0 {
			return out, err
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return []cpapi.Event{}, nil
		case <-a.closed:
			return nil, ErrClosed
		}
	}
}
