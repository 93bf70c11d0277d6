package s3gw

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floelabs/floe/client"
)

// follower keeps the index equal to what the control plane's blob objects of the gateway's
// wallets say. It applies the control plane's events in order; an event about a blob object
// makes it fetch that object's current state, so applying an event twice, or after the
// state it announces has changed again, is harmless. A new (or outdated) index is rebuilt
// from the wallets' owned objects first.
type follower struct {
	g *Gateway

	mu      sync.Mutex
	applied uint64        // next event to apply
	changed chan struct{} // closed when applied moves
	epoch   atomic.Uint32
}

func newFollower(g *Gateway) *follower { return &follower{g: g, changed: make(chan struct{})} }

// bootstrap loads the cursor, or rebuilds the index when it has none or it is ahead of the
// control plane (a different network).
func (f *follower) bootstrap(ctx context.Context) error {
	g := f.g
	cursor, err := g.ix.cursor()
	if err != nil {
		return err
	}
	h, err := g.reader.Head(ctx)
	if err != nil {
		return fmt.Errorf("s3gw: %w", err)
	}
	f.epoch.Store(h.Epoch)
	if cursor == 0 || cursor > h.NextEvent {
		if err := g.ix.reset(); err != nil {
			return err
		}
		if cursor, err = f.resync(ctx); err != nil {
			return err
		}
	}
	f.applied = cursor
	return nil
}

// resync makes the index equal to the wallets' owned objects now and returns the event to
// follow on from: the control plane's next event before the listing (events after it that
// the listing already reflects are applied again, harmlessly). Records of objects the
// wallets no longer own are forgotten. It rebuilds a new index, and catches an index up
// after the events it needed were pruned.
func (f *follower) resync(ctx context.Context) (uint64, error) {
	g := f.g
	start := time.Now()
	h, err := g.reader.Head(ctx)
	if err != nil {
		return 0, fmt.Errorf("s3gw: %w", err)
	}
	f.epoch.Store(max(f.epoch.Load(), h.Epoch))
	listed := map[client.ObjectID]bool{}
	n := 0
	for _, w := range g.wallets {
		blobs, err := g.reader.ListBlobs(ctx, &w.addr)
		if err != nil {
			return 0, fmt.Errorf("s3gw: listing the objects of %s: %w", w.addr, err)
		}
		for i := range blobs {
			listed[blobs[i].ID] = true
			if ok, err := f.apply(&blobs[i]); err != nil {
				return 0, err
			} else if ok {
				n++
			}
		}
	}
	var stale []client.ObjectID
	for _, p := range []string{"o" + sep, "b" + sep, "c" + sep} {
		err := g.ix.scan(p, "", func(_ []byte, r *record) (bool, error) {
			if !listed[r.ObjectID] {
				stale = append(stale, r.ObjectID)
			}
			return true, nil
		})
		if err != nil {
			return 0, err
		}
	}
	for _, id := range stale {
		if err := g.ix.remove(id); err != nil {
			return 0, err
		}
	}
	if err := g.ix.setCursor(h.NextEvent); err != nil {
		return 0, err
	}
	g.log.Info("index rebuilt from the control plane", "records", n, "forgotten", len(stale), "event", h.NextEvent, "took", time.Since(start))
	return h.NextEvent, nil
}

// run applies events until ctx ends.
func (f *follower) run(ctx context.Context) {
	g := f.g
	for ctx.Err() == nil {
		evs, next, err := g.reader.Events(ctx, f.position(), 500, 25*time.Second)
		if errors.Is(err, client.ErrEventsPruned) {
			g.log.Warn("the control plane pruned the events the index needs next; rebuilding it from the owned objects", "from", f.position(), "err", err)
			var at uint64
			if at, err = f.resync(ctx); err == nil {
				f.advance(at)
				continue
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				g.log.Warn("following the control plane", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for i := range evs {
			for {
				err := f.handle(ctx, &evs[i])
				if err == nil || ctx.Err() != nil {
					break
				}
				g.log.Warn("applying a control-plane event; retrying", "seq", evs[i].Seq, "type", evs[i].Type, "err", err)
				sleep(ctx, time.Second)
			}
			if ctx.Err() != nil {
				return
			}
		}
		if len(evs) == 0 {
			continue
		}
		if err := g.ix.setCursor(next); err != nil {
			g.log.Error("saving the index cursor", "err", err)
		}
		f.advance(next)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (f *follower) position() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

func (f *follower) advance(next uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = next
	close(f.changed)
	f.changed = make(chan struct{})
}

// ours reports whether an address is one of the gateway's wallets.
func (f *follower) ours(a client.Address) bool { return f.g.wallets[a] != nil }

// handle applies one event.
func (f *follower) handle(ctx context.Context, ev *client.Event) error {
	switch ev.Type {
	case client.EventBlobCertified, client.EventBlobAttributes, client.EventBlobDeleted, client.EventBlobExtended:
		if !f.ours(ev.Owner) {
			return nil
		}
		return f.refresh(ctx, ev.ObjectID)
	case client.EventObjectTransferred:
		if !f.ours(ev.Owner) && !f.ours(ev.To) {
			return nil
		}
		return f.refresh(ctx, ev.ObjectID)
	case client.EventEpochChangeDone:
		f.epoch.Store(ev.Epoch)
		n, err := f.g.ix.expire(ev.Epoch)
		if err != nil {
			return err
		}
		if n > 0 {
			f.g.log.Info("expired records forgotten", "epoch", ev.Epoch, "records", n)
		}
		f.g.renewBuckets(ctx)
	}
	return nil
}

// refresh fetches a blob object and records what it says now.
func (f *follower) refresh(ctx context.Context, id client.ObjectID) error {
	b, err := f.g.reader.BlobByObjectID(ctx, id)
	if errors.Is(err, client.ErrBlobNotFound) {
		return f.g.ix.remove(id)
	}
	if err != nil {
		return err
	}
	_, err = f.apply(b)
	return err
}

// apply records a blob object if it is a live, certified gateway record of one of the
// wallets, and forgets it otherwise.
func (f *follower) apply(b *client.Blob) (bool, error) {
	if !f.ours(b.Owner) || !b.Certified || b.Storage.End <= f.epoch.Load() {
		return false, f.g.ix.remove(b.ID)
	}
	r, ok := decodeBlob(b)
	if !ok {
		return false, f.g.ix.remove(b.ID)
	}
	return true, f.g.ix.put(b.Owner, r)
}

// barrier waits until the index has applied every event the control plane had emitted when
// it was called.
func (f *follower) barrier(ctx context.Context) error {
	h, err := f.g.reader.Head(ctx)
	if err != nil {
		return fmt.Errorf("s3gw: %w", err)
	}
	head := h.NextEvent
	for {
		f.mu.Lock()
		applied, ch := f.applied, f.changed
		f.mu.Unlock()
		if applied >= head {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
