package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/fanout"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/redstuff"
	"golang.org/x/sync/semaphore"
)

// Sliver recovery (spec §2.10). A node that lacks slivers of a certified blob in its shards
// rebuilds them from recovery symbols of the other committee members: the secondary slivers
// first, each from K_p symbols of primary slivers, then the primary slivers, each from K_s
// symbols of secondary slivers (its own rebuilt secondaries among them). Every symbol is
// checked against its Merkle proof before it is used. A rebuilt sliver that does not match
// the metadata proves the writer encoded the blob inconsistently (see inconsistency.go).
//
// Blobs to recover are queued (recoveryQueue) by the BlobCertified events (after a grace
// period for in-flight uploads), by the scrubber and reads that quarantine a sliver, and by
// a sweep over every blob the node knows, at start and then periodically; RecoveryWorkers
// blobs are recovered at once within RecoveryMemory, and a failed recovery is retried with
// exponential backoff.

// recoveryTask is one queued blob.
type recoveryTask struct {
	due      time.Time
	attempts int
	running  bool
	again    bool // queued again while running: run once more at due
}

// recoveryQueue is the set of blobs waiting for recovery.
type recoveryQueue struct {
	max   int
	mu    sync.Mutex
	tasks map[blob.ID]*recoveryTask
	wake  chan struct{}
}

func newRecoveryQueue(max int) *recoveryQueue {
	return &recoveryQueue{max: max, tasks: map[blob.ID]*recoveryTask{}, wake: make(chan struct{}, 1)}
}

func (q *recoveryQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// add queues id to run at due (or earlier if it is queued already). It reports false if the
// queue is full.
func (q *recoveryQueue) add(id blob.ID, due time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.tasks[id]
	switch {
	case t == nil:
		if len(q.tasks) >= q.max {
			return false
		}
		q.tasks[id] = &recoveryTask{due: due}
	case t.running:
		if !t.again || due.Before(t.due) {
			t.due = due
		}
		t.again = true
	case due.Before(t.due):
		t.due = due
	}
	q.signal()
	return true
}

// remove drops id from the queue (a running recovery finishes but is not repeated).
func (q *recoveryQueue) remove(id blob.ID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t := q.tasks[id]; t != nil && !t.running {
		delete(q.tasks, id)
	} else if t != nil {
		t.again = false
	}
}

// next marks up to limit due tasks running and returns them, with the time the earliest
// waiting task is due (zero if none waits).
func (q *recoveryQueue) next(now time.Time, limit int) (ids []blob.ID, wake time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, t := range q.tasks {
		if t.running {
			continue
		}
		if !t.due.After(now) && len(ids) < limit {
			t.running = true
			ids = append(ids, id)
			continue
		}
		if wake.IsZero() || t.due.Before(wake) {
			wake = t.due
		}
	}
	return ids, wake
}

// done records the outcome of a run of id; retry is the delay before the next attempt after
// a failure (the attempt count is passed to it).
func (q *recoveryQueue) done(id blob.ID, failed bool, now time.Time, retry func(attempts int) time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	t := q.tasks[id]
	if t == nil {
		return
	}
	t.running = false
	switch {
	case failed:
		t.attempts++
		if d := now.Add(retry(t.attempts)); !t.again || d.After(t.due) {
			t.due = d
		}
	case t.again:
		t.attempts = 0
	default:
		delete(q.tasks, id)
	}
	t.again = false
	q.signal()
}

func (q *recoveryQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.tasks)
}

// Recovery rebuilds the slivers the node's shards lack (see the top of this file).
type Recovery struct {
	*core
	queue *recoveryQueue
	// rounds holds the durations of recent recovery requests (see roundTimes).
	rounds roundTimes
	// inconsistency proves a blob inconsistent when a rebuilt sliver does not match.
	inconsistency *Inconsistency
	// sweepReq asks run for a sweep now.
	sweepReq chan struct{}
	// memory bounds the estimated bytes of the recoveries running at once (RecoveryMemory).
	memory *semaphore.Weighted
}

func newRecovery(c *core, inc *Inconsistency) *Recovery {
	return &Recovery{core: c, queue: newRecoveryQueue(c.cfg.MaxRecoveryQueue), inconsistency: inc, sweepReq: make(chan struct{}, 1),
		memory: semaphore.NewWeighted(max(c.cfg.RecoveryMemory, 1))}
}

// recoveryBytes estimates the memory of rebuilding the slivers refs of a blob of
// unencodedLength bytes: per sliver, the symbols it is rebuilt from (each with a Merkle proof)
// and the sliver itself.
func recoveryBytes(p redstuff.Params, unencodedLength uint64, refs []nodestore.SliverRef) int64 {
	symbolSize, err := p.SymbolSize(unencodedLength)
	if err != nil {
		return 1
	}
	proof := 64
	for l := 1; l < p.NShards; l *= 2 {
		proof += 33
	}
	var total int64
	for _, ref := range refs {
		total += int64(p.SymbolCount(ref.Axis)*(symbolSize+proof) + p.SliverLen(ref.Axis, symbolSize))
	}
	return max(total, 1)
}

// requestSweep asks for a sweep as soon as none runs.
func (n *Recovery) requestSweep() {
	select {
	case n.sweepReq <- struct{}{}:
	default:
	}
}

// schedule queues blob id for recovery after delay.
func (n *Recovery) schedule(id blob.ID, delay time.Duration) {
	if n.cfg.DisableRecovery {
		return
	}
	if !n.queue.add(id, time.Now().Add(delay)) {
		n.log.Debug("recovery queue full", "blob", id)
	}
	n.m.recoveryQueue.Set(float64(n.queue.len()))
}

// retryDelay is the backoff after attempts failed recoveries, with jitter.
func (n *Recovery) retryDelay(attempts int) time.Duration {
	d := n.cfg.RecoveryBackoff
	for i := 1; i < attempts && d < n.cfg.RecoveryMaxBackoff; i++ {
		d *= 2
	}
	d = min(d, n.cfg.RecoveryMaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// run runs queued recoveries until ctx ends, RecoveryWorkers at a time (none with
// DisableRecovery), and sweeps the node's blobs at start, every RecoverySweep and when its
// shards change.
func (n *Recovery) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, n.cfg.RecoveryWorkers)
	sweep, stopSweep := n.newTicker(n.cfg.RecoverySweep)
	defer stopSweep()
	sweepDone := make(chan struct{}, 1)
	sweeping := false
	startSweep := func() {
		if sweeping {
			return
		}
		sweeping = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.sweep(ctx)
			sweepDone <- struct{}{}
		}()
	}
	select { // the first sweep is the one asked for at start
	case <-n.sweepReq:
	default:
	}
	startSweep()
	again := false // a sweep was asked for while one ran
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var ids []blob.ID
		var wake time.Time
		if !n.cfg.DisableRecovery {
			ids, wake = n.queue.next(time.Now(), cap(sem)-len(sem))
		}
		for _, id := range ids {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem; n.queue.signal() }()
				err := n.recoverBlob(ctx, id)
				if err != nil && ctx.Err() == nil {
					n.m.recoveryFailures.Inc()
					n.log.Warn("sliver recovery failed; will retry", "blob", id, "err", err)
				}
				n.queue.done(id, err != nil, time.Now(), n.retryDelay)
				n.m.recoveryQueue.Set(float64(n.queue.len()))
			}()
		}
		var timerC <-chan time.Time
		if !wake.IsZero() {
			timer.Reset(max(time.Until(wake), time.Millisecond))
			timerC = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-n.queue.wake:
		case <-timerC:
		case <-sweep:
			startSweep()
		case <-n.sweepReq:
			again = sweeping
			startSweep()
		case <-sweepDone:
			sweeping = false
			if again {
				again = false
				startSweep()
			}
		}
	}
}

// sweep queues every certified blob of which the node misses slivers in its shards, and
// records what it found for the shards' health.
func (n *Recovery) sweep(ctx context.Context) {
	v, err := n.currentView()
	if err != nil {
		return
	}
	if len(v.shards) == 0 {
		n.shards.sweptShards(nil)
		return
	}
	var start blob.ID
	queued := 0
	for ctx.Err() == nil {
		page, err := n.store.BlobInfos(ctx, start, 256)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Error("recovery sweep", "err", err)
			}
			return
		}
		for _, e := range page {
			if !e.Info.IsCertified(v.epoch) {
				n.shards.setMissing(e.ID, nil) // no longer to be held
				continue
			}
			missing, err := n.store.MissingSlivers(ctx, e.ID, v.shards)
			if err != nil {
				if ctx.Err() == nil {
					n.log.Error("recovery sweep", "blob", e.ID, "err", err)
				}
				return
			}
			n.shards.setMissing(e.ID, missing)
			if len(n.shards.notInTransfer(missing)) > 0 && !n.cfg.DisableRecovery {
				if !n.queue.add(e.ID, time.Now()) {
					n.log.Info("recovery queue full; the sweep resumes later", "queued", queued)
					return
				}
				queued++
			}
		}
		if len(page) < 256 {
			break
		}
		start = nextID(page[len(page)-1].ID)
	}
	if ctx.Err() != nil {
		return
	}
	n.shards.sweptShards(v.shards)
	n.m.recoveryQueue.Set(float64(n.queue.len()))
	if queued > 0 {
		n.log.Info("recovery sweep queued blobs", "blobs", queued)
	}
}

// nextID returns the blob ID right after id in byte order (id itself if it is the last).
func nextID(id blob.ID) blob.ID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			return id
		}
	}
	return blob.ID{} // unreachable in practice: wrapped around
}

// recoverBlob rebuilds the slivers of blob id that the node's shards lack, if the blob is
// certified and valid. It returns nil once nothing is missing, or once it proved the blob
// inconsistent and submitted the invalid-blob certificate.
func (n *Recovery) recoverBlob(ctx context.Context, id blob.ID) (err error) {
	v, err := n.currentView()
	if err != nil {
		return err
	}
	info, err := n.blobInfo(ctx, id)
	if err != nil {
		return err
	}
	if !info.IsCertified(v.epoch) || info.Invalid {
		n.shards.setMissing(id, nil)
		return nil
	}
	missing, err := n.store.MissingSlivers(ctx, id, v.shards)
	if err != nil {
		return err
	}
	n.shards.setMissing(id, missing)
	if missing = n.shards.notInTransfer(missing); len(missing) == 0 {
		return nil // what is missing is being pulled from the previous owner (migrate.go)
	}
	defer func() {
		if err == nil { // rebuilt, or proven invalid (its slivers are dropped)
			n.shards.setMissing(id, nil)
		}
	}()
	md, err := n.ensureMetadata(ctx, id, v)
	if err != nil {
		return err
	}
	// Within RecoveryMemory; a blob larger than all of it waits for the others to finish.
	need := min(recoveryBytes(v.enc.Params(), md.Metadata.UnencodedLength, missing), n.cfg.RecoveryMemory)
	if err := n.memory.Acquire(ctx, need); err != nil {
		return err
	}
	defer n.memory.Release(need)
	byAxis := map[redstuff.Axis][]nodestore.SliverRef{}
	for _, ref := range missing {
		byAxis[ref.Axis] = append(byAxis[ref.Axis], ref)
	}
	n.log.Info("recovering slivers", "blob", id, "primary", len(byAxis[redstuff.Primary]), "secondary", len(byAxis[redstuff.Secondary]))
	// Secondary slivers first: they need fewer symbols (K_p), and once rebuilt they are
	// sources for the primary slivers.
	for _, a := range [2]redstuff.Axis{redstuff.Secondary, redstuff.Primary} {
		if len(byAxis[a]) == 0 {
			continue
		}
		proof, err := n.recoverAxis(ctx, v, md, a, byAxis[a])
		if proof != nil {
			return n.inconsistency.prove(ctx, v, md, proof)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ensureMetadata returns the blob's metadata from the store, the pending buffer or, failing
// those, from other nodes (verified against the blob ID, then stored).
func (n *core) ensureMetadata(ctx context.Context, id blob.ID, v *epochView) (*blob.MetadataWithID, error) {
	md, err := n.store.Metadata(ctx, id)
	if err == nil || !errors.Is(err, nodestore.ErrNotFound) {
		return md, err
	}
	if md = n.pending.metadata(id); md != nil {
		return md, nil
	}
	var errs []error
	for _, m := range n.peerOrder(n.otherMembers(v)) {
		peer, err := n.peer(m)
		if err == nil {
			var got *blob.MetadataWithID
			if got, err = peer.With(n.countBytes("metadata")).Metadata(ctx, id, v.enc.Params()); err == nil {
				if err := n.store.PutMetadata(ctx, got); err != nil {
					return nil, err
				}
				return got, nil
			}
			n.markIfSlow(ctx, peer, err)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: metadata of %s from no peer: %w", ErrMetadataNotFound, id, errors.Join(errs...))
}

// recoverAxis rebuilds the slivers refs (all of axis target) and stores them. If a rebuilt
// sliver does not match the metadata it returns the inconsistency proof.
//
// The sources are the other axis's slivers: the node's own first (no network), then the other
// members' in random member order, the recently slow or failing ones last. One frugal fan-out
// job asks for exactly as many sources as are still missing, grouped into one request per
// member; a member that has not answered after the hedge delay (RecoveryHedge, or four times
// the median of recent requests if that is longer) is marked slow and others are asked in its
// stead (its answer still counts if it comes).
func (n *Recovery) recoverAxis(ctx context.Context, v *epochView, md *blob.MetadataWithID, target redstuff.Axis,
	refs []nodestore.SliverRef) (*redstuff.InconsistencyProof, error) {
	enc, p, id := v.enc, v.enc.Params(), md.ID
	src := target.Other()
	k := p.SymbolCount(target)
	targets := make([]int, len(refs))
	for i, ref := range refs {
		targets[i] = p.SliverIndex(target, blob.PairIndex(id, v.nShards, int(ref.Shard)))
	}
	// got[t] holds the verified symbols for target t, by source index.
	got := make(map[int]map[int]redstuff.RecoverySymbol, len(targets))
	for _, t := range targets {
		got[t] = map[int]redstuff.RecoverySymbol{}
	}
	accept := func(syms []redstuff.RecoverySymbol) {
		for _, sym := range syms {
			if g, ok := got[sym.TargetIndex]; ok && sym.Target == target {
				g[sym.SourceIndex] = sym
			}
		}
	}
	need := func() int {
		most := 0
		for _, g := range got {
			most = max(most, k-len(g))
		}
		return most
	}
	n.localSymbols(ctx, v, md, src, targets, accept)
	held := func() int {
		k := 0
		for _, g := range got {
			k += len(g)
		}
		return k
	}
	local := held()

	own := map[int]bool{}
	for _, shard := range v.shards {
		own[p.SliverIndex(src, blob.PairIndex(id, v.nShards, int(shard)))] = true
	}
	var (
		peers  []*nodeclient.Client
		names  []string
		tasks  []fanout.Task
		scores []float64
	)
	for _, m := range n.peerOrder(n.otherMembers(v)) {
		peer, err := n.peer(m)
		if err != nil {
			n.log.Warn("peer unusable", "peer", m.Name, "err", err)
			continue
		}
		i := len(peers)
		peers, names, scores = append(peers, peer), append(names, m.Name), append(scores, float64(i+1))
		for _, shard := range m.Shards {
			if idx := p.SliverIndex(src, blob.PairIndex(id, v.nShards, int(shard))); !own[idx] {
				tasks = append(tasks, fanout.Task{Node: i, Key: idx, Weight: 1})
			}
		}
	}
	job := fanout.Start(ctx, fanout.Config{Nodes: len(peers), Scores: scores, Limit: n.cfg.RecoveryFetches, PerNode: 1,
		Batch: len(tasks), Need: need(), Frugal: true,
		Hedge: func() time.Duration { return n.rounds.hedge(n.cfg.RecoveryHedge) },
		OnHedge: func(i int, _ []fanout.Task) {
			peers[i].Latency().MarkSlow()
			n.log.Info("peer slow to send recovery symbols; asking others", "blob", id, "axis", target, "missing", need(), "slow", names[i])
		}},
		tasks, func(ctx context.Context, i int, ts []fanout.Task) ([]redstuff.RecoverySymbol, error) {
			ids := make([]blob.SymbolID, 0, len(ts)*len(targets))
			for _, t := range ts {
				for _, tg := range targets {
					if src == redstuff.Primary {
						ids = append(ids, blob.SymbolID{Primary: uint16(t.Key), Secondary: uint16(tg)})
					} else {
						ids = append(ids, blob.SymbolID{Primary: uint16(tg), Secondary: uint16(t.Key)})
					}
				}
			}
			return peers[i].With(n.countBytes("symbols")).RecoverySymbols(ctx, enc, md, ids, src)
		})
	defer job.Stop()
	var failures []error
	for need() > 0 {
		res, err := job.Next(time.Time{})
		if errors.Is(err, fanout.ErrDone) {
			return nil, fmt.Errorf("%w: %s slivers of %s: %d more symbols needed, no source left: %w",
				redstuff.ErrNotEnoughSymbols, target, id, need(), errors.Join(failures...))
		}
		if err != nil {
			return nil, err
		}
		if res.Err != nil {
			n.markIfSlow(ctx, peers[res.Node], res.Err)
			if errors.Is(res.Err, nodeclient.ErrInvalidResponse) {
				n.log.Warn("peer sent invalid recovery symbols", "peer", names[res.Node], "blob", id, "err", res.Err)
			}
			failures = append(failures, res.Err)
			continue
		}
		n.rounds.add(res.Took)
		before := need()
		accept(res.Value)
		job.Add(before - need())
	}
	job.Stop() // nothing writes to got any more
	// A node holding many shards may rebuild from its own slivers alone (then it fetched no
	// symbol bytes): say where the symbols came from.
	n.m.recoverySymbols.WithLabelValues("local").Add(float64(local))
	n.m.recoverySymbols.WithLabelValues("peers").Add(float64(held() - local))
	// The rebuilt slivers of the axis are stored in one synced batch (with their quarantined
	// copies deleted), not one commit each: 28 synced commits per blob of a node of 14 shards
	// bounded a wiped node's rebuild.
	batch := n.store.NewBatch()
	defer batch.Close()
	for _, t := range targets {
		syms := make([]redstuff.RecoverySymbol, 0, len(got[t]))
		for _, sym := range got[t] {
			syms = append(syms, sym)
		}
		slices.SortFunc(syms, func(a, b redstuff.RecoverySymbol) int { return a.SourceIndex - b.SourceIndex })
		sl, proof, err := blob.RecoverSliver(enc, md, target, t, syms)
		if proof != nil {
			n.m.inconsistency.WithLabelValues("built").Inc()
			n.log.Warn("rebuilt sliver does not match the metadata: the blob is inconsistently encoded", "blob", id, "axis", target, "index", t)
			return proof, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rebuilding %s sliver %d of %s: %w", target, t, id, err)
		}
		shard := uint16(blob.ShardIndex(id, v.nShards, p.PairIndex(target, t)))
		if err := batch.PutSliver(shard, id, sl); err != nil {
			return nil, err
		}
		if err := batch.DeleteQuarantined(nodestore.SliverRef{Shard: shard, BlobID: id, Axis: target}); err != nil {
			return nil, err
		}
	}
	if info, err := n.blobInfo(ctx, id); err != nil || info.Invalid {
		return nil, err // proven invalid meanwhile: its slivers are dropped, not stored
	}
	if err := n.store.Commit(ctx, batch); err != nil {
		return nil, err
	}
	n.m.recoveredSlivers.WithLabelValues(target.String()).Add(float64(len(targets)))
	n.log.Info("slivers recovered", "blob", id, "axis", target, "count", len(targets))
	return nil, nil
}

// localSymbols computes the recovery symbols the node's own stored slivers of axis src give
// for targets. A stored sliver whose symbols do not verify is quarantined.
func (n *Recovery) localSymbols(ctx context.Context, v *epochView, md *blob.MetadataWithID, src redstuff.Axis, targets []int,
	accept func([]redstuff.RecoverySymbol)) {
	for _, shard := range v.shards {
		sl, raw, err := n.storedSliver(ctx, shard, md.ID, src)
		if err != nil {
			if raw != nil {
				n.quarantineRead(ctx, nodestore.SliverRef{Shard: shard, BlobID: md.ID, Axis: src}, raw, err)
			}
			continue
		}
		syms, err := v.enc.RecoverySymbols(sl, targets)
		for i := 0; err == nil && i < len(syms); i++ {
			if blob.VerifyRecoverySymbol(v.enc, md, syms[i]) != nil {
				err = errors.New("its recovery symbols do not match the metadata")
			}
		}
		if err == nil {
			accept(syms)
			continue
		}
		n.quarantineRead(ctx, nodestore.SliverRef{Shard: shard, BlobID: md.ID, Axis: src}, raw, err)
	}
}

// storedSliver reads a stored sliver with its raw record.
func (n *core) storedSliver(ctx context.Context, shard uint16, id blob.ID, a redstuff.Axis) (redstuff.Sliver, []byte, error) {
	raw, err := n.store.SliverData(ctx, shard, id, a)
	if err != nil {
		return redstuff.Sliver{}, nil, err
	}
	sl, err := blob.UnmarshalSliverData(raw, a)
	if err != nil {
		return redstuff.Sliver{}, raw, fmt.Errorf("%w: stored sliver: %w", nodestore.ErrCorrupt, err)
	}
	return sl, raw, nil
}

// quarantineRead quarantines a stored sliver found corrupt on a read and queues its blob for
// recovery.
func (n *core) quarantineRead(ctx context.Context, ref nodestore.SliverRef, raw []byte, reason error) {
	moved, err := n.store.Quarantine(ctx, ref, raw, reason.Error())
	if err != nil {
		n.log.Error("quarantining a corrupt sliver", "sliver", ref, "err", err)
		return
	}
	if moved {
		n.m.readQuarantined.Inc()
		n.log.Warn("stored sliver is corrupt; quarantined for recovery", "sliver", ref, "reason", reason)
	}
	n.schedule(ref.BlobID, 0)
}

// peerOrder returns peers in random order, those that recently failed or were slow last.
func (n *core) peerOrder(peers []*cpapi.Member) []*cpapi.Member {
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	rank := func(m *cpapi.Member) int {
		if c, err := n.peer(m); err == nil && c.Latency().Failing() {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(peers, func(a, b *cpapi.Member) int { return rank(a) - rank(b) })
	return peers
}

// markIfSlow marks a peer that did not answer usefully (unreachable, timed out, a server
// error or invalid data) so that it is asked last for a while; a refusal (4xx) is no fault.
func (n *core) markIfSlow(ctx context.Context, peer *nodeclient.Client, err error) {
	if ctx.Err() == nil && (nodeclient.Unresponsive(err) || errors.Is(err, nodeclient.ErrInvalidResponse)) {
		peer.Latency().MarkSlow()
	}
}

// countBytes counts the response bytes fetched from peers for recovery, by kind.
func (n *core) countBytes(kind string) func(nodeclient.Doer) nodeclient.Doer {
	return func(next nodeclient.Doer) nodeclient.Doer {
		return nodeclient.DoerFunc(func(ctx context.Context, req *nodeclient.Request) (*nodeclient.Response, error) {
			resp, err := next.Do(ctx, req)
			if err == nil {
				n.m.recoveryBytes.WithLabelValues(kind).Add(float64(len(resp.Body)))
			}
			return resp, err
		})
	}
}

// roundTimes keeps the durations of the last recovery rounds that completed, so that the
// hedge adapts to a loaded machine instead of asking more peers (and loading it more) when
// every round is slow.
type roundTimes struct {
	mu   sync.Mutex
	last [32]time.Duration
	n    int
}

func (r *roundTimes) add(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last[r.n%len(r.last)] = d
	r.n++
}

// hedge returns how long to wait for a round: at least min, and four times the median of the
// recent rounds.
func (r *roundTimes) hedge(min time.Duration) time.Duration {
	r.mu.Lock()
	k := r.n
	if k > len(r.last) {
		k = len(r.last)
	}
	s := slices.Clone(r.last[:k])
	r.mu.Unlock()
	if k == 0 {
		return min
	}
	slices.Sort(s)
	return max(min, 4*s[k/2])
}
