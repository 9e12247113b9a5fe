package storage

import (
	"container/list"
	"sync"
	"time"
)

// TTLCache keeps values for a fixed time and at most a fixed number of them: the one cache of
// Rapport's stores (schemas, rule sets, triggers, principals), so each server trusts a copy of what
// another server may change for a bounded time. Entries expire ttl after they were set; when the cache
// is full, the entry closest to expiry goes first. It is safe for concurrent use.
type TTLCache[K comparable, V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[K]*list.Element
	// order holds the entries by expiry, oldest at the front: every entry lives for the same ttl, so
	// insertion order is expiry order.
	order list.List
}

type ttlEntry[K comparable, V any] struct {
	key     K
	value   V
	expires time.Time
}

// NewTTLCache returns a cache keeping each value for ttl and at most max values (max ≤ 0: no limit).
func NewTTLCache[K comparable, V any](ttl time.Duration, max int) *TTLCache[K, V] {
	return &TTLCache[K, V]{ttl: ttl, max: max, now: time.Now, m: map[K]*list.Element{}}
}

// SetClock replaces the clock (time.Now) the cache reads expiry from, for tests that pin time. Call it
// before the cache is used.
func (c *TTLCache[K, V]) SetClock(now func() time.Time) { c.now = now }

// Get returns the value stored for k unless it has expired.
func (c *TTLCache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	e := el.Value.(*ttlEntry[K, V])
	if !c.now().Before(e.expires) {
		c.remove(el)
		var zero V
		return zero, false
	}
	return e.value, true
}

// Set stores v for k for the cache's ttl, replacing any earlier value.
func (c *TTLCache[K, V]) Set(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if el, ok := c.m[k]; ok {
		c.remove(el)
	}
	c.expire(now)
	for c.max > 0 && len(c.m) >= c.max {
		c.remove(c.order.Front())
	}
	c.m[k] = c.order.PushBack(&ttlEntry[K, V]{key: k, value: v, expires: now.Add(c.ttl)})
}

// Delete forgets k at once, for a change made through this server.
func (c *TTLCache[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		c.remove(el)
	}
}

// Purge forgets everything, for a change whose effect on the cached values is not known key by key.
func (c *TTLCache[K, V]) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.order.Init()
}

// Len is the number of values held, expired ones not yet dropped included.
func (c *TTLCache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// expire drops the entries that expired by now, from the front.
func (c *TTLCache[K, V]) expire(now time.Time) {
	for el := c.order.Front(); el != nil; el = c.order.Front() {
		if now.Before(el.Value.(*ttlEntry[K, V]).expires) {
			return
		}
		c.remove(el)
	}
}

func (c *TTLCache[K, V]) remove(el *list.Element) {
	delete(c.m, el.Value.(*ttlEntry[K, V]).key)
	c.order.Remove(el)
}
