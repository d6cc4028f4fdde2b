package readcache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// cache keeps answers read from the store for a short ttl. A purge drops
// everything; gen counts purges, so a value loaded under an older
// generation is not kept, and a load racing a change cannot put a stale
// value back after the purge.
type cache[K comparable, V any] struct {
	ttl time.Duration
	max int

	gen atomic.Uint64
	mu  sync.RWMutex
	m   map[K]entry[V]
}

type entry[V any] struct {
	v     V
	until time.Time
}

func newCache[K comparable, V any](ttl time.Duration, max int) *cache[K, V] {
	return &cache[K, V]{ttl: ttl, max: max, m: make(map[K]entry[V])}
}

// get returns the value of k, from the cache unless fresh is set or it
// expired at now; otherwise from load, keeping it when load succeeds.
// Errors are never kept.
func (c *cache[K, V]) get(ctx context.Context, k K, now time.Time, fresh bool,
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
		c.m[k] = entry[V]{v: v, until: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return v, nil
}

// evict drops expired entries, or every entry when none has expired, so
// the cache never holds more than max; the caller holds mu.
func (c *cache[K, V]) evict(now time.Time) {
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
func (c *cache[K, V]) purge() {
	c.mu.Lock()
	c.gen.Add(1)
	clear(c.m)
	c.mu.Unlock()
}

// size is the number of entries held.
func (c *cache[K, V]) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
