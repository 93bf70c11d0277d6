package client

import (
	"container/list"
	"sync"

	"github.com/floelabs/floe/blob"
)

// metadataCache keeps the verified metadata of recently read blobs. A blob's metadata is
// fixed by its ID (the ID commits to it), so an entry never goes stale; whether the blob may
// still be read is asked of the control plane on every read all the same.
type metadataCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *mdEntry, most recent first
	byKey map[mdKey]*list.Element
}

type mdKey struct {
	id      blob.ID
	nShards int
}

type mdEntry struct {
	key mdKey
	md  *blob.MetadataWithID
}

func newMetadataCache(max int) *metadataCache {
	return &metadataCache{max: max, order: list.New(), byKey: map[mdKey]*list.Element{}}
}

func (c *metadataCache) get(id blob.ID, nShards int) *blob.MetadataWithID {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[mdKey{id, nShards}]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*mdEntry).md
}

func (c *metadataCache) put(md *blob.MetadataWithID, nShards int) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := mdKey{md.ID, nShards}
	if e, ok := c.byKey[k]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.byKey[k] = c.order.PushFront(&mdEntry{k, md})
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(*mdEntry)
		delete(c.byKey, old.key)
	}
}
