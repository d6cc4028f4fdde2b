package readcache_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/readcache"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// counting is a real SQLite store that counts the reads the cache lets
// through, and can hold one GetClient until released.
type counting struct {
	*sqlite.Store
	clientReads, revokedReads atomic.Int64
	// holdNext makes the next GetClient close loading once it has read,
	// then wait for hold.
	holdNext      atomic.Bool
	hold, loading chan struct{}
}

func (c *counting) GetClient(ctx context.Context, id string) (store.Client, error) {
	c.clientReads.Add(1)
	cl, err := c.Store.GetClient(ctx, id)
	if c.holdNext.CompareAndSwap(true, false) {
		close(c.loading)
		<-c.hold
	}
	return cl, err
}

func (c *counting) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	c.revokedReads.Add(1)
	return c.Store.IsRevoked(ctx, jti, grantID)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T, ttl time.Duration, entries int) (*counting, *readcache.Store, *clock) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	base := &counting{Store: st}
	clk := &clock{t: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	for _, id := range []string{"a", "b", "c"} {
		if err := st.CreateClient(t.Context(), store.Client{ID: id, Name: id, SecretHash: "sha256:x", Source: "cli",
			CreatedAt: clk.now(), UpdatedAt: clk.now()}); err != nil {
			t.Fatal(err)
		}
	}
	return base, readcache.New(base, readcache.Options{TTL: ttl, Now: clk.now, ClientEntries: entries, RevocationEntries: entries}), clk
}

func get(t *testing.T, s *readcache.Store, id string) store.Client {
	t.Helper()
	c, err := s.GetClient(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHitsWithinTTLAndReadsAfter(t *testing.T) {
	base, s, clk := setup(t, time.Second, 0)
	get(t, s, "a")
	get(t, s, "a")
	if _, err := s.IsRevoked(t.Context(), "j", "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.IsRevoked(t.Context(), "j", "g"); err != nil {
		t.Fatal(err)
	}
	if n, m := base.clientReads.Load(), base.revokedReads.Load(); n != 1 || m != 1 {
		t.Fatalf("within the TTL: %d client and %d revocation reads, want 1 and 1", n, m)
	}
	clk.add(time.Second) // expired at exactly the TTL
	get(t, s, "a")
	if n := base.clientReads.Load(); n != 2 {
		t.Errorf("after the TTL: %d client reads, want 2", n)
	}
}

func TestPurgeAndFresh(t *testing.T) {
	base, s, _ := setup(t, time.Minute, 0)
	get(t, s, "a")
	// A change made behind the cache's back (another instance) …
	if err := base.Store.SetClientSecret(t.Context(), "a", "sha256:new", time.Now()); err != nil {
		t.Fatal(err)
	}
	if c := get(t, s, "a"); c.SecretHash != "sha256:x" {
		t.Fatalf("the cache did not hold the record: %q", c.SecretHash)
	}
	// … shows to a fresh read, which is kept …
	c, err := s.GetClientFresh(t.Context(), "a")
	if err != nil || c.SecretHash != "sha256:new" {
		t.Fatalf("GetClientFresh = %q, %v", c.SecretHash, err)
	}
	if c := get(t, s, "a"); c.SecretHash != "sha256:new" {
		t.Errorf("after GetClientFresh the cache still holds %q", c.SecretHash)
	}
	// … and to every read after a purge.
	if err := base.Store.SetClientSecret(t.Context(), "a", "sha256:newer", time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Purge()
	if c := get(t, s, "a"); c.SecretHash != "sha256:newer" {
		t.Errorf("after Purge: %q", c.SecretHash)
	}
}

// TestLoadRacingPurgeIsNotKept: a read in flight when a purge happens may
// return the old value, but must not put it back in the cache.
func TestLoadRacingPurgeIsNotKept(t *testing.T) {
	base, s, _ := setup(t, time.Minute, 0)
	base.hold, base.loading = make(chan struct{}), make(chan struct{})
	base.holdNext.Store(true)
	done := make(chan store.Client)
	go func() {
		c, _ := s.GetClient(context.Background(), "a")
		done <- c
	}()
	<-base.loading                                                                        // the old record is read
	if err := s.SetClientSecret(t.Context(), "a", "sha256:new", time.Now()); err != nil { // purges
		t.Fatal(err)
	}
	close(base.hold)
	<-done
	if c := get(t, s, "a"); c.SecretHash != "sha256:new" {
		t.Errorf("a load that raced the purge was kept: %q", c.SecretHash)
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	base, s, _ := setup(t, time.Minute, 0)
	for range 2 {
		if _, err := s.GetClient(t.Context(), "missing"); err == nil {
			t.Fatal("an unknown client was found")
		}
	}
	if n := base.clientReads.Load(); n != 2 {
		t.Errorf("%d reads for two misses, want 2: ErrNotFound must not be cached", n)
	}
}

func TestTTLZeroPassesThrough(t *testing.T) {
	base, s, _ := setup(t, 0, 0)
	get(t, s, "a")
	get(t, s, "a")
	if n := base.clientReads.Load(); n != 2 {
		t.Errorf("%d reads with the cache off, want 2", n)
	}
}

func TestBounded(t *testing.T) {
	base, s, _ := setup(t, time.Minute, 2)
	for _, id := range []string{"a", "b", "c", "a"} {
		get(t, s, id)
	}
	// With room for two, the third evicts (none had expired, so all go),
	// and a is read again.
	if n := base.clientReads.Load(); n != 4 {
		t.Errorf("%d reads, want 4: the cache must stay within its bound", n)
	}
}

func BenchmarkGetClientHit(b *testing.B) {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "latchkey.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateClient(b.Context(), store.Client{ID: "a", Name: "a", Source: "cli"}); err != nil {
		b.Fatal(err)
	}
	s := readcache.New(st, readcache.Options{TTL: time.Hour})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetClient(ctx, "a"); err != nil {
			b.Fatal(err)
		}
	}
}
