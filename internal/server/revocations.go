package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// revocationCache remembers the store's recent IsRevoked answers, so that
// introspecting (or calling userinfo with) a token checked in the last
// ttl needs no database round trip: resource servers introspect the same
// token on every request they serve. Revocations made through this
// instance purge the cache before they are answered (purgingStore);
// revocations made through another instance or the CLI show here within
// ttl, the short propagation delay RFC 7009 §2 allows. A ttl of 0 turns
// the cache off.
type revocationCache struct {
	ttl time.Duration
	max int

	// gen counts purges. An answer read from the store under an older
	// generation is never cached, so a lookup racing a revocation cannot
	// put a stale "not revoked" back after the purge.
	gen atomic.Uint64
	mu  sync.RWMutex
	m   map[revocationKey]revocationEntry
}

// revocationCacheSize bounds the cache (about 150 bytes an entry).
const revocationCacheSize = 16384

type revocationKey struct{ jti, grantID string }

type revocationEntry struct {
	revoked bool
	until   time.Time
}

func newRevocationCache(ttl time.Duration, max int) *revocationCache {
	return &revocationCache{ttl: ttl, max: max, m: make(map[revocationKey]revocationEntry)}
}

// isRevoked answers like st.IsRevoked, from the cache when it can.
func (c *revocationCache) isRevoked(ctx context.Context, st store.Store, jti, grantID string, now time.Time) (bool, error) {
	if c.ttl <= 0 {
		return st.IsRevoked(ctx, jti, grantID)
	}
	k := revocationKey{jti, grantID}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.revoked, nil
	}
	gen := c.gen.Load()
	revoked, err := st.IsRevoked(ctx, jti, grantID)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.gen.Load() == gen {
		if len(c.m) >= c.max {
			c.evict(now)
		}
		c.m[k] = revocationEntry{revoked: revoked, until: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return revoked, nil
}

// evict drops expired entries, or every entry when none has expired, so
// the cache never holds more than max; the caller holds mu.
func (c *revocationCache) evict(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= c.max {
		clear(c.m)
	}
}

// purge forgets every answer; called after each revocation.
func (c *revocationCache) purge() {
	c.mu.Lock()
	c.gen.Add(1)
	clear(c.m)
	c.mu.Unlock()
}

// purgingStore is the store as the server uses it: every call that can
// revoke a token purges the revocation cache once the store has answered,
// before the server answers its client.
type purgingStore struct {
	store.Store
	cache *revocationCache
}

func (p purgingStore) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	defer p.cache.purge()
	return p.Store.RevokeGrant(ctx, id, now)
}

func (p purgingStore) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	defer p.cache.purge()
	return p.Store.RevokeJTI(ctx, jti, exp)
}

func (p purgingStore) DeleteClient(ctx context.Context, id string) error {
	defer p.cache.purge()
	return p.Store.DeleteClient(ctx, id)
}

func (p purgingStore) DeleteUser(ctx context.Context, id string) error {
	defer p.cache.purge()
	return p.Store.DeleteUser(ctx, id)
}

// RotateRefreshToken purges when the store detected a reuse and revoked
// the whole grant (RFC 9700 §4.14.2).
func (p purgingStore) RotateRefreshToken(ctx context.Context, r store.Rotation) (store.RefreshToken, error) {
	rt, err := p.Store.RotateRefreshToken(ctx, r)
	if errors.Is(err, store.ErrReused) {
		p.cache.purge()
	}
	return rt, err
}
