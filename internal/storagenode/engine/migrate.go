package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// Shard migration at epoch changes (spec §7.4). When the committee of a new epoch gives the
// node shards to take over (the control plane's EpochChange.Unsynced lists them: the shards it
// gained, and any it owned before without ever reporting them), it pulls each one with POST
// /v1/migrate/sync_shard from the last owner that held it (ShardHandover.From; usually the
// previous owner): pages of slivers in blob-ID order, one axis at a time, each request signed
// with the node's BLS key, each page resuming after the last blob ID received. Every sliver is
// checked against its blob's metadata before it is stored; an owner that is unreachable
// (after retries) or sends a sliver that does not verify is abandoned for that shard, and
// recovery from the other members' recovery symbols rebuilds what is still missing. While a
// shard is pulled its health status is inTransfer (recovery leaves it alone); then
// inRecovery until a sweep found nothing missing in it. Once every shard to take over is
// ready the node submits EpochSyncDone (also after EpochChangeDone, and in a later epoch if it
// could not before).
//
// A shard the node holds without owning it (lost at a change, or earlier while the node was
// down) is kept, and served to sync_shard and recovery-symbol requests, until the change is
// done (reads of older blobs may still go to the previous committee) and the shard's owner
// reported holding it (it left EpochChange.Unsynced); only then is it deleted. So a new owner
// that is down past EpochChangeDone still finds the shard where it was. After that the node
// keeps checking (every step, one seek a shard held) that it holds no shard it does not own:
// a write that checked ownership against the view before the change can land after the
// deletion, and is deleted in turn. The decision is made
// from the store and the control plane at every step, so it holds across restarts; health
// counts such shards as readOnly (listed under shardDetail.other) and the metric
// floe_node_retained_shards counts them.

// Errors of sync-shard requests.
var (
	// ErrSyncShardDenied: the request is not signed by the shard's owner in the requested
	// epoch, or this node did not own the shard in the epoch before.
	ErrSyncShardDenied = errors.New("sync shard request denied")
	// ErrSyncShardEpoch: the request is for an epoch this node has not reached yet.
	ErrSyncShardEpoch = errors.New("sync shard request for a future epoch")
)

// Migration sizes.
const (
	// MaxSyncShardSlivers is the most slivers a sync-shard page carries.
	MaxSyncShardSlivers = 256
	// maxSyncShardBytes bounds a page's bytes (a page stops before exceeding it, after at
	// least one sliver).
	maxSyncShardBytes = 32 << 20
	// syncShardRetryFor is how long failed page requests are retried (with backoff) before
	// the previous owner is given up for recovery: long enough for a restart of that node (3 s
	// were not, for a node restarted mid-transfer on a loaded machine), short next to what
	// recovery of a whole shard costs.
	syncShardRetryFor = 20 * time.Second
)

// Migrations serves sync_shard requests and pulls the node's gained shards.
type Migrations struct {
	*core
	inc *Inconsistency
	// wake is signalled when the committee view changes.
	wake chan struct{}

	mm *migrateMetrics

	mu sync.Mutex
	// synced is the last epoch whose gained shards are complete and reported.
	synced uint32
	// dropped is the last epoch at whose step the node held no shard it does not own.
	dropped uint32
	// retained is the shards kept without being owned at the last step.
	retained []uint16
}

func newMigrations(c *core, inc *Inconsistency) (*Migrations, error) {
	mm, err := newMigrateMetrics(c.cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Migrations{core: c, inc: inc, wake: make(chan struct{}, 1), mm: mm}, nil
}

// viewChanged marks the shards gained from the previous view as in transfer (before the
// recovery sweep sees them missing) and wakes run.
func (m *Migrations) viewChanged(old, cur *epochView) {
	if old != nil && old.epoch+1 == cur.epoch {
		var gained []uint16
		for _, s := range cur.shards {
			if !old.owned[s] {
				gained = append(gained, s)
			}
		}
		m.shards.markTransfer(cur.epoch, gained)
	}
	m.signal()
}

func (m *Migrations) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// SyncShard answers a sync-shard request (body: BCS SignedMessage<SyncShardMsg>) with the
// BCS SyncShardResponse of the page asked for. The request must be signed by the member that
// owns the shard in the request's epoch, and this node must have owned the shard in the epoch
// before.
func (m *Migrations) SyncShard(ctx context.Context, body []byte) ([]byte, error) {
	msg, sig, err := protocol.DecodeSignedMessage(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedBody, err)
	}
	req, err := protocol.DecodeSyncShardRequest(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedBody, err)
	}
	v, err := m.currentView()
	if err != nil {
		return nil, err
	}
	if req.Epoch > v.epoch {
		return nil, fmt.Errorf("%w: epoch %d, this node is at %d", ErrSyncShardEpoch, req.Epoch, v.epoch)
	}
	if req.Epoch == 0 || int(req.Shard) >= v.nShards {
		return nil, fmt.Errorf("%w: shard %d of epoch %d", ErrSyncShardDenied, req.Shard, req.Epoch)
	}
	cur, err := m.committee(ctx, req.Epoch)
	if err != nil {
		return nil, err
	}
	owner := shardOwner(cur, req.Shard)
	if owner == nil || crypto.VerifyBLS(crypto.BLSPublicKey(owner.BLSPublicKey), msg, sig) != nil {
		return nil, fmt.Errorf("%w: not signed by the owner of shard %d in epoch %d", ErrSyncShardDenied, req.Shard, req.Epoch)
	}
	prev, err := m.committee(ctx, req.Epoch-1)
	if err != nil {
		return nil, err
	}
	if p := shardOwner(prev, req.Shard); p == nil || crypto.BLSPublicKey(p.BLSPublicKey) != m.pub {
		// Not the previous owner: a node that still holds the shard (an owner before it,
		// keeping it until the new owner holds it) serves it too.
		held, err := m.store.Shards(ctx)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(held, req.Shard) {
			return nil, fmt.Errorf("%w: this node did not own shard %d in epoch %d and does not hold it", ErrSyncShardDenied, req.Shard, req.Epoch-1)
		}
	}
	items, size, err := m.readPage(ctx, req)
	if err != nil {
		return nil, err
	}
	m.mm.served.Add(float64(len(items)))
	return protocol.AppendSyncShardResponse(make([]byte, 0, size+16), items)
}

// readPage reads the page req asks for: up to req.Count slivers (at most
// MaxSyncShardSlivers) from req.Start, stopping before the page's bytes exceed
// SyncShardPageBytes (after at least one sliver). It reads from the store in chunks sized by
// the slivers read so far, so that it reads about one sliver past the byte bound rather than
// a whole page count of slivers (up to MaxSyncShardSlivers large slivers held in memory to
// send 32 MiB of them).
func (m *Migrations) readPage(ctx context.Context, req protocol.SyncShardRequest) ([]protocol.ShardSliver, int, error) {
	limit := int(min(req.Count, MaxSyncShardSlivers))
	budget := m.cfg.SyncShardPageBytes
	var items []protocol.ShardSliver
	size := 0
	from, chunk := req.Start, min(limit, 4)
	for len(items) < limit {
		want := min(chunk, limit-len(items))
		page, err := m.store.ShardSlivers(ctx, req.Shard, req.Axis, from, want)
		if err != nil {
			return nil, 0, err
		}
		for _, s := range page {
			n := blob.SliverDataSize(s.Sliver) + blob.IDLen + 2
			if size+n > budget && len(items) > 0 {
				return items, size, nil
			}
			size += n
			items = append(items, protocol.ShardSliver{BlobID: s.BlobID, Sliver: s.Sliver})
		}
		if len(page) < want {
			break // the end of the shard's axis
		}
		if from = nextID(page[len(page)-1].BlobID); from == (blob.ID{}) {
			break
		}
		// The next chunk: as many slivers of the average size so far as fit, plus one.
		chunk = max(1, min(64, (budget-size)/max(1, size/len(items))+1))
	}
	return items, size, nil
}

// committee returns the committee of epoch (the current view's if it is that epoch).
func (m *Migrations) committee(ctx context.Context, epoch uint32) (*cpapi.Committee, error) {
	if v, err := m.currentView(); err == nil && v.epoch == epoch {
		return v.committee, nil
	}
	c, err := m.cp.Committee(ctx, epoch)
	if err != nil {
		return nil, fmt.Errorf("storagenode: committee %d: %w", epoch, err)
	}
	return c, nil
}

func shardOwner(c *cpapi.Committee, shard uint16) *cpapi.Member {
	for i := range c.Members {
		if slices.Contains(c.Members[i].Shards, shard) {
			return &c.Members[i]
		}
	}
	return nil
}

func (m *Migrations) self(c *cpapi.Committee) *cpapi.Member {
	for i := range c.Members {
		if crypto.BLSPublicKey(c.Members[i].BLSPublicKey) == m.pub {
			return &c.Members[i]
		}
	}
	return nil
}

// run pulls gained shards and drops lost ones at each committee change until ctx ends.
func (m *Migrations) run(ctx context.Context) {
	tick, stop := m.newTicker(time.Second)
	defer stop()
	for {
		if v, err := m.currentView(); err == nil {
			m.step(ctx, v)
		}
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-tick:
		}
	}
}

// step does what is left to do for the view's epoch: the shards to take over, the report,
// the deletion of the shards held without being owned once their owners hold them.
func (m *Migrations) step(ctx context.Context, v *epochView) {
	m.mu.Lock()
	synced, dropped := m.synced >= v.epoch, m.dropped >= v.epoch
	m.mu.Unlock()
	if v.epoch == 0 {
		return
	}
	if synced && dropped {
		if !m.holdsUnowned(ctx, v) {
			return
		}
		dropped = false // slivers written after the drop: dropHeld deletes them again
	}
	epoch, ec, err := m.epochChange(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("shard migration: control plane info", "err", err)
		}
		return
	}
	if epoch != v.epoch || ec == nil || ec.Epoch != v.epoch {
		return // the view and the control plane disagree on the epoch: the view catches up
	}
	unsynced := map[uint16]cpapi.ShardHandover{}
	for _, h := range ec.Unsynced {
		unsynced[h.Shard] = h
	}
	if !synced {
		var gained []cpapi.ShardHandover
		if me := m.self(v.committee); me != nil {
			for _, s := range v.shards {
				if h, ok := unsynced[s]; ok && h.Owner == me.NodeID {
					gained = append(gained, h)
				}
			}
		}
		shards := make([]uint16, len(gained))
		for i, h := range gained {
			shards[i] = h.Shard
		}
		m.shards.keepTransfer(v.epoch, shards)
		if m.syncGained(ctx, v, gained) {
			m.setDone(v.epoch, true, false)
		}
	}
	if !dropped && m.dropHeld(ctx, v, ec, unsynced) {
		m.setDone(v.epoch, false, true)
	}
}

// holdsUnowned reports whether the store holds a shard the node does not own in v's epoch.
// Once the shards lost at v's change are dropped, one can come back: a sliver whose write
// checked the shard's ownership against an earlier view (a recovery that started before the
// change, an upload accepted just before it) and was stored after the drop.
func (m *Migrations) holdsUnowned(ctx context.Context, v *epochView) bool {
	held, err := m.store.Shards(ctx)
	if err != nil {
		return false
	}
	for _, s := range held {
		if !v.owned[s] {
			return true
		}
	}
	return false
}

func (m *Migrations) setDone(epoch uint32, synced, dropped bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if synced {
		m.synced = max(m.synced, epoch)
	}
	if dropped {
		m.dropped = max(m.dropped, epoch)
	}
}

// epochChange returns the control plane's state of the change to the current epoch.
func (m *Migrations) epochChange(ctx context.Context) (uint32, *cpapi.EpochChange, error) {
	info, err := m.cp.Info(ctx)
	if err != nil {
		return 0, nil, err
	}
	return info.Epoch, info.EpochChange, nil
}

// syncGained pulls the shards to take over (those not transferred yet for the epoch), waits
// for recovery to complete them, and reports EpochSyncDone. It reports whether the epoch's
// sync is over.
func (m *Migrations) syncGained(ctx context.Context, v *epochView, gained []cpapi.ShardHandover) bool {
	if len(gained) == 0 {
		return true // nothing to take over, or reported already
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, h := range gained {
		if m.shards.status(h.Shard) == "ready" {
			continue // complete already (a sweep found nothing missing): only the report is left
		}
		if !m.shards.startTransfer(v.epoch, h.Shard) {
			continue // pulled already (or being pulled) for this epoch
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := m.pullShard(ctx, v, h)
			m.shards.endTransfer(h.Shard)
			if err != nil && ctx.Err() == nil {
				m.mm.fallbacks.Inc()
				m.log.Warn("shard transfer failed; recovering it from recovery symbols", "shard", h.Shard, "epoch", v.epoch, "err", err)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false
	}
	for _, h := range gained {
		if m.shards.status(h.Shard) != "ready" {
			m.sweepNow() // recovery rebuilds what the transfer did not bring
			return false
		}
	}
	epoch, ec, err := m.epochChange(ctx)
	if err != nil {
		m.log.Warn("shard migration: control plane info", "err", err)
		return false
	}
	if epoch != v.epoch || ec == nil {
		return true // the epoch moved on: the next one's step takes over what is still unsynced
	}
	me := m.self(v.committee)
	if me == nil || slices.Contains(ec.Done, me.NodeID) {
		return true
	}
	op := cpapi.Op{EpochSyncDone: &cpapi.EpochSyncDoneOp{NodeID: me.NodeID, Epoch: v.epoch,
		Signature: cpapi.BLSSignature(protocol.SignEpochSyncDone(m.key, v.epoch, protocol.ObjectID(me.NodeID)))}}
	if err := m.inc.submit(ctx, op); err != nil {
		m.log.Warn("reporting epoch sync done", "epoch", v.epoch, "err", err)
		return false
	}
	m.log.Info("epoch sync done: every shard taken over is complete", "epoch", v.epoch, "shards", len(gained), "change", ec.State)
	return true
}

// source returns the member record of node id from the latest committee (from v's epoch
// back) that has it, or nil.
func (m *Migrations) source(ctx context.Context, v *epochView, id cpapi.ObjectID) *cpapi.Member {
	for e := v.epoch; e > 0 && e+64 > v.epoch; e-- {
		c, err := m.committee(ctx, e)
		if err != nil {
			return nil
		}
		for i := range c.Members {
			if c.Members[i].NodeID == id {
				return &c.Members[i]
			}
		}
	}
	return nil
}

// pullShard pulls both axes of h's shard from the last owner that held it (h.From), storing
// every sliver that verifies. It returns an error when that node is gone, unreachable after
// retries or lying. A shard back with a node that held it has nothing to pull: recovery
// brings what was written while it was away.
func (m *Migrations) pullShard(ctx context.Context, v *epochView, h cpapi.ShardHandover) error {
	shard := h.Shard
	if me := m.self(v.committee); me != nil && h.From == me.NodeID {
		m.log.Info("shard back with this node: recovery completes it", "shard", shard, "epoch", v.epoch)
		return nil
	}
	owner := m.source(ctx, v, h.From)
	if owner == nil {
		return fmt.Errorf("no node holds shard %d to hand it over (from %s)", shard, h.From)
	}
	peer, err := m.peer(owner)
	if err != nil {
		return err
	}
	page := min(m.cfg.SyncShardPage, MaxSyncShardSlivers)
	start := time.Now()
	moved := 0
	for _, a := range [2]redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
		var from blob.ID
		for {
			req := protocol.SyncShardRequest{Epoch: v.epoch, Shard: shard, Axis: a, Start: from, Count: uint64(page)}
			items, err := m.fetchPage(ctx, peer, req)
			if err != nil {
				return fmt.Errorf("shard %d from %s: %w", shard, owner.Name, err)
			}
			n, err := m.storePage(ctx, v, shard, a, items)
			moved += n
			if err != nil {
				return fmt.Errorf("shard %d from %s: %w", shard, owner.Name, err)
			}
			// Only an empty page ends the axis: a page may stop short of the count asked
			// for at the sender's byte bound.
			if len(items) == 0 {
				break
			}
			last := items[len(items)-1].BlobID
			if from = nextID(last); from == (blob.ID{}) {
				break
			}
		}
	}
	m.log.Info("shard transferred", "shard", shard, "from", owner.Name, "epoch", v.epoch, "bytes", moved, "took", time.Since(start))
	return nil
}

// fetchPage asks for one page, retrying with backoff (the request resumes where the last
// page ended, so an interrupted transfer goes on from there).
func (m *Migrations) fetchPage(ctx context.Context, peer *nodeclient.Client, req protocol.SyncShardRequest) ([]protocol.ShardSliver, error) {
	body := protocol.SignSyncShard(m.key, req)
	backoff := 200 * time.Millisecond
	var errs []error
	var giveUp time.Time
	for {
		items, err := peer.With(m.countBytes("sync_shard")).SyncShard(ctx, body, maxSyncShardBytes+(1<<20))
		if err == nil {
			return items, nil
		}
		if giveUp.IsZero() {
			giveUp = time.Now().Add(syncShardRetryFor)
		}
		errs = append(errs, err)
		if errors.Is(err, nodeclient.ErrInvalidResponse) || time.Now().Add(backoff).After(giveUp) || ctx.Err() != nil {
			if len(errs) > 4 { // the first few and the last say why; the rest repeat them
				errs = append(errs[:3], errs[len(errs)-1])
			}
			return nil, errors.Join(errs...)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// storePage verifies and stores a page's slivers; it returns the sliver bytes stored, and an
// error if the page holds a sliver of another shard or axis, or one that does not match its
// metadata (the sender is lying).
func (m *Migrations) storePage(ctx context.Context, v *epochView, shard uint16, a redstuff.Axis, items []protocol.ShardSliver) (int, error) {
	p := v.enc.Params()
	stored := 0
	for i, it := range items {
		if i > 0 && !lessID(items[i-1].BlobID, it.BlobID) {
			return stored, fmt.Errorf("%w: sync shard page not in blob-ID order", nodeclient.ErrInvalidResponse)
		}
		pair := blob.PairIndex(it.BlobID, v.nShards, int(shard))
		if it.Sliver.Axis != a || it.Sliver.Index != p.SliverIndex(a, pair) {
			return stored, fmt.Errorf("%w: %s sliver %d of %s is not shard %d's", nodeclient.ErrInvalidResponse, it.Sliver.Axis, it.Sliver.Index, it.BlobID, shard)
		}
		info, err := m.blobInfo(ctx, it.BlobID)
		if err != nil || info.Invalid {
			continue // unknown here (not registered, or expired) or invalid: not to be held
		}
		if ok, err := m.store.HasSliver(ctx, shard, it.BlobID, a); err != nil {
			return stored, err
		} else if ok {
			continue
		}
		md, err := m.ensureMetadata(ctx, it.BlobID, v)
		if err != nil {
			return stored, err
		}
		if err := VerifySliver(v.enc, md, it.Sliver); err != nil {
			return stored, fmt.Errorf("%w: %s sliver of %s: %w", nodeclient.ErrInvalidResponse, a, it.BlobID, err)
		}
		if err := m.store.PutSliver(ctx, shard, it.BlobID, it.Sliver); err != nil {
			return stored, err
		}
		stored += len(it.Sliver.Data)
		m.mm.slivers.Inc()
		m.mm.bytes.Add(float64(len(it.Sliver.Data)))
	}
	return stored, nil
}

func lessID(a, b blob.ID) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// dropHeld deletes the shards the node holds without owning them whose owner now holds
// them (they left ec.Unsynced) once the change to v's epoch is done, and keeps the others. It
// reports whether it holds no such shard any more.
func (m *Migrations) dropHeld(ctx context.Context, v *epochView, ec *cpapi.EpochChange, unsynced map[uint16]cpapi.ShardHandover) bool {
	held, err := m.store.Shards(ctx)
	if err != nil {
		return false
	}
	cur, err := m.currentView()
	if err != nil || cur.epoch != v.epoch {
		return false
	}
	changing := ec.State == cpapi.EpochStateChangeSync
	var keep, drop []uint16
	for _, s := range held {
		switch _, waiting := unsynced[s]; {
		case cur.owned[s]:
		case changing || waiting:
			keep = append(keep, s)
		default:
			drop = append(drop, s)
		}
	}
	for _, s := range drop {
		if err := m.store.DropShard(ctx, s); err != nil {
			m.log.Error("dropping a shard the node no longer owns", "shard", s, "err", err)
			return false
		}
	}
	if len(drop) > 0 {
		m.log.Info("shards no longer owned deleted: the change is done and their owners hold them", "epoch", v.epoch, "shards", drop)
	}
	m.mu.Lock()
	changed := !slices.Equal(m.retained, keep)
	m.retained = keep
	m.mu.Unlock()
	m.shards.setRetained(keep)
	m.mm.retained.Set(float64(len(keep)))
	if changed && len(keep) > 0 {
		var waitingFor []string
		for _, s := range keep {
			if h, ok := unsynced[s]; ok {
				waitingFor = append(waitingFor, fmt.Sprintf("%d->%s", s, h.Owner))
			}
		}
		m.log.Info("keeping shards the node no longer owns until the change is done and their owners hold them",
			"epoch", v.epoch, "shards", keep, "change", ec.State, "owners_not_done", waitingFor)
	}
	return len(keep) == 0
}
