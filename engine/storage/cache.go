package storage

import (
	"sync"
	"time"
)

// Cache is a small in-memory map whose entries expire after a fixed time. Rapport keeps what it reads on
// every request (principals, roles, schemas, triggers) in one for a few seconds: changes made through this
// server invalidate entries at once (Delete, DeleteFunc), changes made by another server are seen once
// the entry expires, so the TTL is the documented bound on staleness across servers. It is safe for
// concurrent use.
type Cache[K comparable, V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[K]cacheEntry[V]
}

type cacheEntry[V any] struct {
	value V
	until time.Time
}

// NewCache returns a cache keeping entries for ttl and at most max of them (max <= 0: 10,000). now may be
// nil (wall clock).
func NewCache[K comparable, V any](ttl time.Duration, max int, now func() time.Time) *Cache[K, V] {
	if max <= 0 {
		max = 10_000
	}
	if now == nil {
		now = time.Now
	}
	return &Cache[K, V]{ttl: ttl, max: max, now: now, entries: map[K]cacheEntry[V]{}}
}

// Get returns the value stored under k if it has not expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !c.now().Before(e.until) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Put stores v under k for the cache's TTL. When the cache is full, expired entries are dropped first and
// then, if still full, arbitrary ones: a cache may forget, never serve stale data past its TTL.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for key, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, key)
			}
		}
		for key := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, key)
		}
	}
	c.entries[k] = cacheEntry[V]{value: v, until: now.Add(c.ttl)}
}

// Delete forgets k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
}

// DeleteFunc forgets every entry for which drop returns true, e.g. all cached credentials of one user.
func (c *Cache[K, V]) DeleteFunc(drop func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if drop(k, e.value) {
			delete(c.entries, k)
		}
	}
}

// Len is the number of entries held, expired ones included until they are dropped.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
