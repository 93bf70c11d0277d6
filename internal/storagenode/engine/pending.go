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
// node has not yet seen registered. Anyone can upload such data for free, so it is bounded
// three ways: in bytes overall (max), in bytes per source (perSource, by the uploader's
// address), and in time (ttl, short: a writer registers its blob within seconds of uploading).
// When it is full, the oldest entries of the sources holding more than their fair share
// (max / sources) are evicted to make room; an upload that still does not fit is refused.
type pendingBuffer struct {
	max       int64
	perSource int64
	ttl       time.Duration

	mu       sync.Mutex
	bytes    int64
	entries  map[blob.ID]*pendingEntry
	bySource map[string]int64
}

type pendingKey struct {
	shard uint16
	axis  redstuff.Axis
}

type pendingEntry struct {
	id      blob.ID
	created time.Time
	bytes   int64
	sources map[string]int64 // bytes by uploader
	md      *blob.MetadataWithID
	slivers map[pendingKey]redstuff.Sliver
}

func newPendingBuffer(max, perSource int64, ttl time.Duration) *pendingBuffer {
	return &pendingBuffer{max: max, perSource: perSource, ttl: ttl, entries: map[blob.ID]*pendingEntry{}, bySource: map[string]int64{}}
}

func (p *pendingBuffer) entry(id blob.ID, now time.Time) *pendingEntry {
	e := p.entries[id]
	if e == nil {
		e = &pendingEntry{id: id, created: now, sources: map[string]int64{}, slivers: map[pendingKey]redstuff.Sliver{}}
		p.entries[id] = e
	}
	return e
}

// reserve accounts size bytes of e to source, evicting other entries if the buffer is full.
func (p *pendingBuffer) reserve(e *pendingEntry, source string, size int64) error {
	if p.bySource[source]+size > p.perSource {
		return withMeta(fmt.Errorf("%w: the uploads of %s already hold %d of their %d bytes", ErrCacheSaturated, source, p.bySource[source], p.perSource),
			"quota", "source")
	}
	for p.bytes+size > p.max {
		if !p.evictOne(e, source) {
			return fmt.Errorf("%w: %d of %d bytes used", ErrCacheSaturated, p.bytes, p.max)
		}
	}
	p.bytes += size
	e.bytes += size
	e.sources[source] += size
	p.bySource[source] += size
	return nil
}

// evictOne evicts the oldest entry (other than keep) of the source that holds the most bytes,
// if it holds more than its fair share (the buffer split evenly among the sources that hold
// some and the one asking, requester); it reports whether it evicted one.
func (p *pendingBuffer) evictOne(keep *pendingEntry, requester string) bool {
	var big string
	for src, b := range p.bySource {
		if big == "" || b > p.bySource[big] || (b == p.bySource[big] && src < big) {
			big = src
		}
	}
	sources := int64(len(p.bySource))
	if _, ok := p.bySource[requester]; !ok {
		sources++
	}
	if big == "" || p.bySource[big] <= p.max/sources {
		return false
	}
	var victim *pendingEntry
	for _, e := range p.entries {
		if e != keep && e.sources[big] > 0 && (victim == nil || e.created.Before(victim.created)) {
			victim = e
		}
	}
	if victim == nil {
		return false
	}
	p.remove(victim)
	return true
}

// remove drops an entry and its accounting.
func (p *pendingBuffer) remove(e *pendingEntry) {
	delete(p.entries, e.id)
	p.bytes -= e.bytes
	for src, b := range e.sources {
		if p.bySource[src] -= b; p.bySource[src] <= 0 {
			delete(p.bySource, src)
		}
	}
}

// putMetadata buffers verified metadata uploaded by source; it reports false if it was
// already buffered.
func (p *pendingBuffer) putMetadata(md *blob.MetadataWithID, source string, now time.Time) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.entries[md.ID]; e != nil && e.md != nil {
		return false, nil
	}
	e := p.entry(md.ID, now)
	if err := p.reserve(e, source, int64(md.BCSSize())); err != nil {
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

// putSliver buffers a verified sliver held for shard, uploaded by source; it reports false if
// already buffered.
func (p *pendingBuffer) putSliver(id blob.ID, shard uint16, sl redstuff.Sliver, source string, now time.Time) (bool, error) {
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
	if err := p.reserve(e, source, int64(len(sl.Data))+64); err != nil {
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
		p.remove(e)
	}
	return e
}

// sweep drops entries older than the TTL.
func (p *pendingBuffer) sweep(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.entries {
		if now.Sub(e.created) > p.ttl {
			p.remove(e)
		}
	}
}

// sweepInterval is how often sweep should run: a quarter of the TTL, between 1 s and a minute.
func (p *pendingBuffer) sweepInterval() time.Duration {
	return min(max(p.ttl/4, time.Second), time.Minute)
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
