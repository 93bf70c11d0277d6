package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// pendingBuffer holds verified metadata and slivers uploaded with ?pending=true for blobs the
// node has not yet seen registered, bounded in bytes and in time.
type pendingBuffer struct {
	max int64
	ttl time.Duration

	mu      sync.Mutex
	bytes   int64
	entries map[blob.ID]*pendingEntry
}

type pendingKey struct {
	shard uint16
	axis  redstuff.Axis
}

type pendingEntry struct {
	created time.Time
	bytes   int64
	md      *blob.MetadataWithID
	slivers map[pendingKey]redstuff.Sliver
}

func newPendingBuffer(max int64, ttl time.Duration) *pendingBuffer {
	return &pendingBuffer{max: max, ttl: ttl, entries: map[blob.ID]*pendingEntry{}}
}

func (p *pendingBuffer) entry(id blob.ID, now time.Time) *pendingEntry {
	e := p.entries[id]
	if e == nil {
		e = &pendingEntry{created: now, slivers: map[pendingKey]redstuff.Sliver{}}
		p.entries[id] = e
	}
	return e
}

func (p *pendingBuffer) reserve(e *pendingEntry, size int64) error {
	if p.bytes+size > p.max {
		return fmt.Errorf("%w: %d of %d bytes used", ErrCacheSaturated, p.bytes, p.max)
	}
	p.bytes += size
	e.bytes += size
	return nil
}

// putMetadata buffers verified metadata; it reports false if it was already buffered.
func (p *pendingBuffer) putMetadata(md *blob.MetadataWithID, now time.Time) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.entries[md.ID]; e != nil && e.md != nil {
		return false, nil
	}
	e := p.entry(md.ID, now)
	if err := p.reserve(e, int64(md.BCSSize())); err != nil {
		if e.bytes == 0 {
			delete(p.entries, md.ID)
		}
		return false, err
	}
	e.md = md
	return true, nil
}

func (p *pendingBuffer) metadata(id blob.ID) *blob.MetadataWithID {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.entries[id]; e != nil {
		return e.md
	}
	return nil
}

// putSliver buffers a verified sliver held for shard; it reports false if already buffered.
func (p *pendingBuffer) putSliver(id blob.ID, shard uint16, sl redstuff.Sliver, now time.Time) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[id]
	if e == nil || e.md == nil {
		return false, ErrMetadataRequired
	}
	k := pendingKey{shard, sl.Axis}
	if _, ok := e.slivers[k]; ok {
		return false, nil
	}
	if err := p.reserve(e, int64(len(sl.Data))+64); err != nil {
		return false, err
	}
	e.slivers[k] = sl
	return true, nil
}

func (p *pendingBuffer) hasSliver(id blob.ID, shard uint16, a redstuff.Axis) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.entries[id]; e != nil {
		_, ok := e.slivers[pendingKey{shard, a}]
		return ok
	}
	return false
}

// take removes and returns the entry of id.
func (p *pendingBuffer) take(id blob.ID) *pendingEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[id]
	if e != nil {
		delete(p.entries, id)
		p.bytes -= e.bytes
	}
	return e
}

// sweep drops entries older than the TTL.
func (p *pendingBuffer) sweep(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, e := range p.entries {
		if now.Sub(e.created) > p.ttl {
			delete(p.entries, id)
			p.bytes -= e.bytes
		}
	}
}

func (p *pendingBuffer) size() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// flushPending stores what the pending buffer holds for a blob that just got registered.
func (n *Events) flushPending(ctx context.Context, id blob.ID) {
	e := n.pending.take(id)
	if e == nil {
		return
	}
	n.m.pendingBytes.Set(float64(n.pending.size()))
	if e.md == nil {
		return
	}
	b := n.store.NewBatch()
	defer b.Close()
	err := b.PutMetadata(e.md)
	for k, sl := range e.slivers {
		if err != nil {
			break
		}
		err = b.PutSliver(k.shard, id, sl)
	}
	if err == nil {
		err = n.store.Commit(ctx, b)
	}
	if err != nil {
		n.log.Error("storing pending uploads", "blob", id, "err", err)
		return
	}
	n.m.slivers.WithLabelValues("pending_flushed").Add(float64(len(e.slivers)))
	n.log.Info("stored pending uploads", "blob", id, "slivers", len(e.slivers))
}
