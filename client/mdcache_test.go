package client

import (
	"testing"

	"github.com/floelabs/floe/blob"
)

// TestMetadataCache: entries are found by blob ID and shard count, the least recently used
// goes first when the cache is full, and a cache of size <= 0 keeps nothing.
func TestMetadataCache(t *testing.T) {
	md := func(b byte) *blob.MetadataWithID { return &blob.MetadataWithID{ID: blob.ID{b}} }
	c := newMetadataCache(2)
	c.put(md(1), 10)
	c.put(md(2), 10)
	if c.get(blob.ID{1}, 10) == nil || c.get(blob.ID{1}, 11) != nil {
		t.Fatal("lookup by ID and shard count")
	}
	c.put(md(3), 10) // evicts 2, the least recently used
	if c.get(blob.ID{2}, 10) != nil || c.get(blob.ID{1}, 10) == nil || c.get(blob.ID{3}, 10) == nil {
		t.Fatal("eviction order")
	}
	off := newMetadataCache(-1)
	off.put(md(1), 10)
	if off.get(blob.ID{1}, 10) != nil {
		t.Fatal("a disabled cache kept an entry")
	}
}
