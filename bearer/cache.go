package bearer

import (
	"sync"
	"time"
)

// digest is the SHA-256 of a token: caches are keyed by it, never by the
// token itself (RFC 9700 §4.9.3: tokens are secrets).
type digest [32]byte

// ttlCache is a bounded map whose entries expire. When it is full, expired
// entries go first, then arbitrary ones: a flood of new keys can only
// cost us lookups we would have made without a cache.
type ttlCache[V any] struct {
	mu      sync.Mutex
	max     int
	entries map[digest]cacheEntry[V]
}

type cacheEntry[V any] struct {
	value   V
	expires time.Time
}

func newTTLCache[V any](max int) *ttlCache[V] {
	return &ttlCache[V]{max: max, entries: make(map[digest]cacheEntry[V])}
}

// get returns the value under k unless it has expired at now.
func (c *ttlCache[V]) get(k digest, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// put stores v under k until expires.
func (c *ttlCache[V]) put(k digest, v V, expires, now time.Time) {
	if !now.Before(expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[k] = cacheEntry[V]{value: v, expires: expires}
}

// evict drops every expired entry and, if the cache is still full, as
// many others as it takes to make room for one.
func (c *ttlCache[V]) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max {
			return
		}
		delete(c.entries, k)
	}
}
