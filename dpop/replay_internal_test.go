package dpop

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// S174: the memory cache holds at most max keys, forgets expired keys
// before live ones, then the oldest, and refuses a live key twice.
func TestMemoryReplayCacheBound(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewMemoryReplayCache(4).(*memoryCache)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	use := func(k string, exp time.Duration) bool {
		ok, err := m.UseOnce(ctx, k, now.Add(exp))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !use("a", time.Minute) || use("a", time.Minute) {
		t.Fatal("a key must be used once")
	}
	use("b", time.Second) // expires first
	use("c", time.Minute)
	use("d", time.Minute)
	now = now.Add(2 * time.Second)
	if !use("e", time.Minute) {
		t.Fatal("e refused")
	}
	if len(m.seen) != 4 {
		t.Fatalf("%d keys held", len(m.seen))
	}
	if _, ok := m.seen["b"]; ok {
		t.Fatal("the expired key was kept")
	}
	if use("a", time.Minute) {
		t.Fatal("a live key was forgotten while an expired one could go")
	}
	if !use("f", time.Minute) { // full of live keys: the oldest, a, goes
		t.Fatal("f refused")
	}
	if _, ok := m.seen["a"]; ok || len(m.seen) != 4 {
		t.Fatalf("held %v", m.seen)
	}
	if use("c", time.Minute) || use("f", time.Minute) {
		t.Fatal("a live key was forgotten")
	}
	// An expired key may be used again.
	now = now.Add(2 * time.Minute)
	if !use("c", time.Minute) {
		t.Fatal("an expired key is still refused")
	}
	for i := range 1000 {
		use(fmt.Sprint(i), time.Duration(i%7)*time.Second)
		if len(m.seen) > 4 || len(m.order)-m.head > 3*4+1 {
			t.Fatalf("after %d: %d keys, %d in order", i, len(m.seen), len(m.order)-m.head)
		}
	}
}

// S174: of concurrent uses of one key exactly one wins.
func TestMemoryReplayCacheConcurrent(t *testing.T) {
	m := NewMemoryReplayCache(100)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if ok, _ := m.UseOnce(context.Background(), "k", time.Now().Add(time.Minute)); ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners", wins.Load())
	}
}
