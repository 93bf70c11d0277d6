package portal

import (
	"container/list"
	"sync"
	"time"
)

// lru is a least-recently-used cache bounded by the summed size of its values.
type lru[K comparable, V any] struct {
	mu    sync.Mutex
	max   int64
	used  int64
	size  func(V) int64
	order *list.List // of *lruEntry, most recent first
	items map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key  K
	val  V
	size int64
}

func newLRU[K comparable, V any](max int64, size func(V) int64) *lru[K, V] {
	return &lru[K, V]{max: max, size: size, order: list.New(), items: map[K]*list.Element{}}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

// put adds a value; one larger than the whole cache is not kept.
func (c *lru[K, V]) put(k K, v V) {
	n := c.size(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.max {
		return
	}
	if e, ok := c.items[k]; ok {
		c.used -= e.Value.(*lruEntry[K, V]).size
		c.order.Remove(e)
		delete(c.items, k)
	}
	c.items[k] = c.order.PushFront(&lruEntry[K, V]{key: k, val: v, size: n})
	c.used += n
	for c.used > c.max {
		e := c.order.Back()
		le := e.Value.(*lruEntry[K, V])
		c.order.Remove(e)
		delete(c.items, le.key)
		c.used -= le.size
	}
}

// ttlCache keeps values for a fixed time, at most max of them (the oldest go first).
type ttlCache[K comparable, V any] struct {
	ttl time.Duration
	now func() time.Time
	c   *lru[K, ttlEntry[V]]
}

type ttlEntry[V any] struct {
	val V
	at  time.Time
}

func newTTLCache[K comparable, V any](max int, ttl time.Duration, now func() time.Time) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, now: now, c: newLRU[K, ttlEntry[V]](int64(max), func(ttlEntry[V]) int64 { return 1 })}
}

func (t *ttlCache[K, V]) get(k K) (V, bool) {
	e, ok := t.c.get(k)
	if !ok || t.now().Sub(e.at) >= t.ttl {
		var zero V
		return zero, false
	}
	return e.val, true
}

func (t *ttlCache[K, V]) put(k K, v V) { t.c.put(k, ttlEntry[V]{val: v, at: t.now()}) }
