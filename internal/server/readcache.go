package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// readCache keeps answers read from the store for a short ttl, so a hot
// path (client authentication, the revocation check of introspection)
// needs no database round trip for something it read moments ago. Changes
// made through this instance purge it (purgingStore) before they are
// answered; changes made through another instance or the CLI show within
// ttl. A ttl of 0 turns it off.
type readCache[K comparable, V any] struct {
	ttl time.Duration
	max int

	// gen counts purges. A value loaded under an older generation is not
	// kept, so a load racing a change cannot put a stale value back after
	// the purge.
	gen atomic.Uint64
	mu  sync.RWMutex
	m   map[K]cachedValue[V]
}

type cachedValue[V any] struct {
	v     V
	until time.Time
}

func newReadCache[K comparable, V any](ttl time.Duration, max int) *readCache[K, V] {
	return &readCache[K, V]{ttl: ttl, max: max, m: make(map[K]cachedValue[V])}
}

// get returns the value of k, from the cache unless fresh is set or it
// expired at now; otherwise from load, keeping it when load succeeds.
func (c *readCache[K, V]) get(ctx context.Context, k K, now time.Time, fresh bool,
	load func(context.Context) (V, error)) (V, error) {
	if c.ttl <= 0 {
		return load(ctx)
	}
	if !fresh {
		c.mu.RLock()
		e, ok := c.m[k]
		c.mu.RUnlock()
		if ok && now.Before(e.until) {
			return e.v, nil
		}
	}
	gen := c.gen.Load()
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.gen.Load() == gen {
		if len(c.m) >= c.max {
			c.evict(now)
		}
		c.m[k] = cachedValue[V]{v: v, until: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return v, nil
}

// evict drops expired entries, or every entry when none has expired, so
// the cache never holds more than max; the caller holds mu.
func (c *readCache[K, V]) evict(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= c.max {
		clear(c.m)
	}
}

// purge forgets everything.
func (c *readCache[K, V]) purge() {
	c.mu.Lock()
	c.gen.Add(1)
	clear(c.m)
	c.mu.Unlock()
}
