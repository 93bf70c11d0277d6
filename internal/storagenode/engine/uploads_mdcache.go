package engine

import (
	"sync"

	"github.com/floelabs/floe/blob"
)

// mdCacheSize is how many blobs' decoded metadata an Uploads keeps: the blobs being uploaded
// at the same time.
const mdCacheSize = 8

// metadataCache keeps the decoded metadata of the blobs uploaded last. A store sends a node
// its slivers in many batched requests (34 of 4 MiB for a 256 MiB blob on a node of 100
// shards); each used to read the metadata back and decode it (n pair hashes, 64 KB at
// n = 1000, freshly allocated). A blob's metadata is fixed by its ID (verified against it
// before it is stored), so a cached copy equals the stored one; callers still check that the
// store holds it. The zero value is an empty cache.
type metadataCache struct {
	mu   sync.Mutex
	mds  [mdCacheSize]*blob.MetadataWithID
	next int // slot the next put replaces
}

// get returns the cached metadata of blob id, or nil.
func (c *metadataCache) get(id blob.ID) *blob.MetadataWithID {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, md := range c.mds {
		if md != nil && md.ID == id {
			return md
		}
	}
	return nil
}

// put caches md, replacing the oldest entry if the cache is full.
func (c *metadataCache) put(md *blob.MetadataWithID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, old := range c.mds {
		if old != nil && old.ID == md.ID {
			return
		}
	}
	c.mds[c.next] = md
	c.next = (c.next + 1) % len(c.mds)
}
