package engine

import (
	"testing"

	"github.com/floelabs/floe/blob"
)

// TestBufPoolBySize checks that a recycled frame buffer goes to a later frame of its own size
// even when buffers of other sizes were given back after it: a blob's primary slivers are
// twice as long as its secondary ones, and the client sends them in turn.
func TestBufPoolBySize(t *testing.T) {
	const primary, secondary, metadata = 804_000, 402_000, 70_000
	var bp bufPool
	const rounds = 100
	reused := 0
	for range rounds {
		p := bp.get(primary)
		s := bp.get(secondary)
		m := bp.get(metadata)
		if len(p) != primary || len(s) != secondary || len(m) != metadata {
			t.Fatalf("lengths %d, %d, %d", len(p), len(s), len(m))
		}
		// Give back the smaller buffers first (the order sync.Pool hands out is its own).
		bp.put(m)
		bp.put(s)
		bp.put(p)
		if q := bp.get(primary); &q[0] == &p[0] {
			reused++
		} else {
			bp.put(q)
		}
	}
	// sync.Pool may drop items (it does at random under the race detector, and when the
	// goroutine moves to another P), so only most rounds must reuse the buffer. With one pool
	// for every size, the metadata buffer given back first came out first (sync.Pool's
	// private slot), too small: it was dropped and a fresh buffer allocated, in every round.
	if reused < rounds/2 {
		t.Errorf("%d of %d rounds reused the primary sliver's buffer", reused, rounds)
	}
	if b := bp.get(0); len(b) != 0 {
		t.Errorf("get(0) returned %d bytes", len(b))
	}
}

// TestMetadataCache checks the cache of decoded metadata: hits by ID, no duplicates, and the
// oldest entry replaced when full.
func TestMetadataCache(t *testing.T) {
	var c metadataCache
	id := func(i int) blob.ID {
		var b blob.ID
		b[0], b[1] = byte(i), byte(i>>8)
		return b
	}
	if c.get(id(1)) != nil {
		t.Fatal("empty cache returned metadata")
	}
	mds := make([]*blob.MetadataWithID, mdCacheSize+3)
	for i := range mds {
		mds[i] = &blob.MetadataWithID{ID: id(i + 1)}
	}
	for _, md := range mds[:mdCacheSize] {
		c.put(md)
		c.put(md) // again: no second slot
	}
	for i, md := range mds[:mdCacheSize] {
		if got := c.get(md.ID); got != md {
			t.Fatalf("entry %d: got %v", i, got)
		}
	}
	// Three more replace the three oldest.
	for _, md := range mds[mdCacheSize:] {
		c.put(md)
	}
	for i, md := range mds {
		got := c.get(md.ID)
		if evicted := i < 3; evicted != (got == nil) {
			t.Errorf("entry %d: cached %v, want evicted %v", i, got != nil, evicted)
		}
	}
}
