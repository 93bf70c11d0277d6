package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/redstuff"
)

// Events follows the control plane: it applies its events to the store, refreshes the
// committee view at epoch changes, stores the pending uploads of newly registered blobs,
// queues certified blobs for recovery and drops the data of blobs proven invalid.
type Events struct {
	*core
	recovery *Recovery
}

// follow applies control-plane events from the persisted cursor on, one fetched batch
// per durable store transaction, until ctx ends. When the events it needs were pruned, it
// catches up from a listing of the state (catchUp) and follows on from there.
func (n *Events) follow(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		n.mu.RLock()
		from := n.cursor
		n.mu.RUnlock()
		pctx, cancel := context.WithTimeout(ctx, n.cfg.EventPoll)
		evs, err := n.cp.Events(pctx, from, n.cfg.EventBatch)
		cancel()
		if err == nil && len(evs) > 0 {
			err = n.applyEvents(ctx, evs)
		}
		if errors.Is(err, ErrEventsPruned) {
			n.log.Warn("the control plane pruned the events the node needs next; catching up from its state", "from", from, "err", err)
			err = n.catchUp(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			n.m.eventErrors.Inc()
			n.log.Warn("following events", "from", from, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
	return nil
}

// blobChange maps a control-plane event onto a nodestore blob change.
func blobChange(ev *cpapi.Event) (nodestore.BlobChange, bool) {
	c := nodestore.BlobChange{Event: nodestore.EventID{TxDigest: ev.TxHash, Seq: ev.Seq}, Epoch: ev.Epoch,
		EndEpoch: ev.EndEpoch, Deletable: ev.Deletable, WasCertified: ev.WasCertified}
	switch ev.Type {
	case cpapi.EventBlobRegistered:
		c.Kind = nodestore.Registered
	case cpapi.EventBlobCertified:
		c.Kind = nodestore.Certified
	case cpapi.EventBlobExtended:
		c.Kind = nodestore.Extended
	case cpapi.EventBlobDeleted:
		c.Kind, c.Deletable = nodestore.Deleted, true // only deletable objects can be deleted
	case cpapi.EventInvalidBlobID:
		c.Kind = nodestore.Invalidated
	default:
		return c, false
	}
	return c, true
}

// applyEvents applies a batch of consecutive events atomically with the cursor, then refreshes
// the committee view on epoch changes and flushes pending uploads of newly registered blobs.
func (n *Events) applyEvents(ctx context.Context, evs []cpapi.Event) error {
	n.mu.RLock()
	want := n.cursor
	n.mu.RUnlock()
	if evs[0].Seq != want {
		return fmt.Errorf("control plane returned event %d, expected %d", evs[0].Seq, want)
	}
	last := evs[len(evs)-1].Seq
	// Store buffered uploads of blobs registered in this batch before the registration becomes
	// visible, so that a blob is never seen registered with its uploads still in the buffer.
	for i := range evs {
		if evs[i].Type == cpapi.EventBlobRegistered || evs[i].Type == cpapi.EventBlobCertified {
			n.flushPending(ctx, evs[i].BlobID)
		}
	}
	var epoch uint32
	epochChanged := false
	err := n.store.ApplyEvent(ctx, last, func(tx *nodestore.EventTx) error {
		epochChanged = false
		for i := range evs {
			ev := &evs[i]
			if ev.Type == cpapi.EventEpochChangeStart || ev.Type == cpapi.EventEpochChangeDone {
				epochChanged, epoch = true, max(epoch, ev.Epoch)
			}
			c, ok := blobChange(ev)
			if !ok {
				continue
			}
			if _, err := tx.ApplyChange(ev.BlobID, c); err != nil {
				if errors.Is(err, nodestore.ErrBadChange) {
					n.log.Warn("event contradicts the blob info; skipped", "seq", ev.Seq, "type", ev.Type, "blob", ev.BlobID, "err", err)
					continue
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Drop the data of blobs proven invalid before the batch counts as applied.
	for i := range evs {
		if evs[i].Type == cpapi.EventInvalidBlobID {
			n.dropInvalid(ctx, evs[i].BlobID)
		}
	}
	n.mu.Lock()
	n.cursor, n.applied = last+1, last+1
	n.latest = max(n.latest, last+1)
	n.height = max(n.height, evs[len(evs)-1].Height)
	n.mu.Unlock()
	n.m.eventsApplied.Add(float64(len(evs)))
	n.m.eventCursor.Set(float64(last))
	if epochChanged {
		if err := n.refreshCommittee(ctx, epoch); err != nil {
			n.log.Warn("committee refresh", "epoch", epoch, "err", err)
		}
	}
	for i := range evs {
		if evs[i].Type == cpapi.EventBlobCertified {
			// Leave in-flight uploads time to arrive before recovering what is missing.
			n.recovery.schedule(evs[i].BlobID, n.cfg.RecoveryDelay)
		}
		if isChallengeEvent(evs[i].Type) {
			n.challengeWake()
		}
	}
	// Wake waiting confirmation requests.
	n.mu.Lock()
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
	return nil
}

// dropInvalid deletes the slivers a blob proven invalid has in the node's shards, and forgets
// its pending uploads and queued recovery. Its blob info (invalid) stays: it answers status
// requests and refuses uploads; garbage collection removes the rest.
func (n *Events) dropInvalid(ctx context.Context, id blob.ID) {
	n.recovery.queue.remove(id)
	n.shards.setMissing(id, nil)
	n.pending.take(id)
	n.m.pendingBytes.Set(float64(n.pending.size()))
	v, err := n.currentView()
	if err != nil {
		return
	}
	dropped := 0
	for _, shard := range v.shards {
		for _, a := range [2]redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			ref := nodestore.SliverRef{Shard: shard, BlobID: id, Axis: a}
			err := errors.Join(n.store.DeleteSliver(ctx, shard, id, a), n.store.DeleteQuarantined(ctx, ref))
			if err != nil {
				n.log.Error("dropping a sliver of an invalid blob", "sliver", ref, "err", err)
				continue
			}
			dropped++
		}
	}
	n.log.Warn("blob marked invalid; slivers dropped", "blob", id, "slivers", dropped)
}
