package dpop

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// DefaultReplayCacheSize is the number of proofs a Verifier without a
// Replay cache remembers.
const DefaultReplayCacheSize = 100_000

// ReplayCache remembers the proofs already accepted, so that each is used
// once (RFC 9449 §11.1, S174).
//
// UseOnce records key until exp and reports true, or reports false if key
// is already recorded and has not expired. Concurrent calls with one key
// must let exactly one of them see true. An error means the cache could
// not answer; the proof is then refused with that error, not accepted.
//
// NewMemoryReplayCache keeps the proofs one process has seen. Several
// instances behind one name need a shared cache (the authorization
// server's store, say) so that a proof accepted by one is refused by all.
type ReplayCache interface {
	UseOnce(ctx context.Context, key string, exp time.Time) (bool, error)
}

// replayKey is what a proof is remembered by: a digest of its htu and jti,
// so that jti values are remembered per URL (S174) in a bounded size
// however long the jti.
func replayKey(htu, jti string) string {
	h := sha256.New()
	h.Write([]byte(htu))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// NewMemoryReplayCache returns a ReplayCache in memory that holds at most
// max keys (DefaultReplayCacheSize when max ≤ 0). When it is full it
// forgets expired keys first, then the oldest: size max to hold every
// proof accepted within the window (iat ± Verifier.Window) at the highest
// rate expected, since a forgotten proof could be replayed.
func NewMemoryReplayCache(max int) ReplayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	return &memoryCache{max: max, seen: make(map[string]time.Time), now: time.Now}
}

// memoryCache is a map of keys to their expiry, and the keys in the order
// they came in. Since exp follows iat, and iat the arrival of a proof
// within the window, that order is nearly the order of expiry.
type memoryCache struct {
	max int
	now func() time.Time

	mu        sync.Mutex
	seen      map[string]time.Time
	order     []string // keys by arrival; order[head:] are live or stale
	head      int
	nextSweep time.Time
}

func (m *memoryCache) UseOnce(_ context.Context, key string, exp time.Time) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.seen[key]; ok && now.Before(e) {
		return false, nil
	}
	if _, ok := m.seen[key]; !ok && len(m.seen) >= m.max {
		m.makeRoom(now)
	}
	if _, ok := m.seen[key]; !ok {
		m.order = append(m.order, key)
	}
	m.seen[key] = exp
	return true, nil
}

// makeRoom frees at least one place: the expired keys at the front of
// the arrival order, then, at most once a second, every expired key, and
// failing that the oldest key.
func (m *memoryCache) makeRoom(now time.Time) {
	for m.head < len(m.order) {
		k := m.order[m.head]
		if e, ok := m.seen[k]; ok && now.Before(e) {
			break
		}
		m.pop()
	}
	if len(m.seen) >= m.max && !now.Before(m.nextSweep) {
		m.nextSweep = now.Add(time.Second)
		for k, e := range m.seen {
			if !now.Before(e) {
				delete(m.seen, k)
			}
		}
	}
	for len(m.seen) >= m.max && m.head < len(m.order) {
		m.pop()
	}
	if m.head > len(m.order)/2 {
		m.order = append(m.order[:0], m.order[m.head:]...)
		m.head = 0
	}
}

// pop forgets the oldest key of the arrival order.
func (m *memoryCache) pop() {
	delete(m.seen, m.order[m.head])
	m.order[m.head] = ""
	m.head++
}
