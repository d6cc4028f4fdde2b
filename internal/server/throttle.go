package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/store"
)

// guard limits guessing (RFC 6749 §4.3.2, §10.10, S005, S025): each failure
// is counted under several keys (username, client, IP); once a key has
// reached its limit within the window, every further attempt waits a delay
// that doubles with each failure, up to a maximum. Counters for the
// password grant and the login page live in the store so that every
// instance agrees; counters of client-secret and introspection misses live
// in this process, so the hot path of the token endpoint does not touch
// the database for them.
type guard struct {
	shared store.ThrottleStore
	local  *memThrottles
	lim    Limits
}

// limitKey is one counter and the failures it allows before delays start.
type limitKey struct {
	key   string
	limit int
}

// maxKeyLen bounds the key a counter is stored under. Keys hold client ids
// and usernames the attacker chooses; without a bound, 50 000 counters of
// 64 KiB keys would take gigabytes of memory or database (A15).
const maxKeyLen = 128

// boundedKey is key itself when short, or else its first bytes (cut at a
// character boundary, so the key stays valid UTF-8 for every backend)
// followed by a digest of the whole, so distinct long keys stay distinct.
func boundedKey(key string) string {
	if len(key) <= maxKeyLen {
		return key
	}
	cut := maxKeyLen - 44
	for cut > 0 && !utf8.RuneStart(key[cut]) {
		cut--
	}
	sum := sha256.Sum256([]byte(key))
	return key[:cut] + "#" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func newGuard(shared store.ThrottleStore, lim Limits) *guard {
	return &guard{shared: shared, local: newMemThrottles(50000), lim: lim}
}

// delay is how long to wait after the last of failures.
func (g *guard) delay(failures, limit int) time.Duration {
	if failures < limit {
		return 0
	}
	d := g.lim.BaseDelay
	for i := limit; i < failures && d < g.lim.MaxDelay; i++ {
		d *= 2
	}
	return min(d, g.lim.MaxDelay)
}

// wait returns how long the caller must still wait before an attempt under
// keys may be checked (zero means go ahead), and which keys have a live
// counter (so a success clears only counters that exist).
func (g *guard) wait(ctx context.Context, ts store.ThrottleStore, keys []limitKey, now time.Time) (time.Duration, []string, error) {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = boundedKey(k.key)
	}
	counters, err := ts.GetThrottles(ctx, names, now)
	if err != nil {
		return 0, nil, fmt.Errorf("throttle: read: %w", err)
	}
	var wait time.Duration
	var live []string
	for _, c := range counters {
		for i, k := range keys {
			if names[i] != c.Key {
				continue
			}
			live = append(live, k.key)
			// Below its limit a counter never makes anyone wait, even when
			// a concurrent failure was stamped a moment after this
			// request's now.
			d := g.delay(c.Failures, k.limit)
			if until := c.LastFailure.Add(d); d > 0 && until.After(now) {
				wait = max(wait, until.Sub(now))
			}
		}
	}
	return wait, live, nil
}

// clear forgets the counter of key (after a success).
func (g *guard) clear(ctx context.Context, ts store.ThrottleStore, key string) error {
	if err := ts.ClearFailures(ctx, boundedKey(key)); err != nil {
		return fmt.Errorf("throttle: clear: %w", err)
	}
	return nil
}

// fail counts a failure under every key and returns the keys whose
// counter this failure brought to its limit (delays start now).
func (g *guard) fail(ctx context.Context, ts store.ThrottleStore, keys []limitKey, now time.Time) ([]limitKey, error) {
	var reached []limitKey
	for _, k := range keys {
		c, err := ts.AddFailure(ctx, boundedKey(k.key), now, g.lim.Window)
		if err != nil {
			return reached, fmt.Errorf("throttle: record: %w", err)
		}
		if c.Failures == k.limit {
			reached = append(reached, k)
		}
	}
	return reached, nil
}

// kind is the counter's family without its subject ("pw:user" of
// "pw:user:alice"): what an audit event names, since a subject may be a
// digest of a browser cookie.
func (k limitKey) kind() string {
	parts := strings.SplitN(k.key, ":", 3)
	if len(parts) < 3 {
		return k.key
	}
	return parts[0] + ":" + parts[1]
}

// memThrottles is an in-process store.ThrottleStore with a bounded size.
type memThrottles struct {
	mu  sync.Mutex
	max int
	m   map[string]store.Throttle
}

func newMemThrottles(max int) *memThrottles {
	return &memThrottles{max: max, m: make(map[string]store.Throttle)}
}

// AddFailure counts a failure for key.
func (t *memThrottles) AddFailure(_ context.Context, key string, now time.Time, window time.Duration) (store.Throttle, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.m[key]
	if !ok || !now.Before(c.ExpiresAt) {
		if len(t.m) >= t.max {
			t.evict(now)
		}
		c = store.Throttle{Key: key}
	}
	c.Failures++
	c.LastFailure = now
	c.ExpiresAt = now.Add(window)
	t.m[key] = c
	return c, nil
}

// GetThrottles returns the live counters of keys.
func (t *memThrottles) GetThrottles(_ context.Context, keys []string, now time.Time) ([]store.Throttle, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []store.Throttle
	for _, k := range keys {
		if c, ok := t.m[k]; ok && now.Before(c.ExpiresAt) {
			out = append(out, c)
		}
	}
	return out, nil
}

// ClearFailures forgets key.
func (t *memThrottles) ClearFailures(_ context.Context, key string) error {
	t.mu.Lock()
	delete(t.m, key)
	t.mu.Unlock()
	return nil
}

// evict drops expired counters, then, if still full, a tenth of the rest
// (an attacker filling the map can only reset counters it created).
func (t *memThrottles) evict(now time.Time) {
	for k, c := range t.m {
		if !now.Before(c.ExpiresAt) {
			delete(t.m, k)
		}
	}
	drop := len(t.m) - t.max*9/10
	for k := range t.m {
		if drop <= 0 {
			break
		}
		delete(t.m, k)
		drop--
	}
}
