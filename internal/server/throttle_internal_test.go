package server

import (
	"context"
	"testing"
	"time"
)

// TestGuardBelowLimitNeverWaits: a counter under its limit must not delay
// anyone, even when a concurrent failure was recorded with a timestamp a
// little after the checking request's clock reading (found under load: a
// right password was refused while wrong ones for other users came from
// the same IP).
func TestGuardBelowLimitNeverWaits(t *testing.T) {
	lim := DefaultConfig().Limits
	g := newGuard(nil, lim)
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	keys := []limitKey{{"pw:ip:127.0.0.1", 20}, {"pw:user:alice", 5}}
	// Another request failed 5 ms "later" than this one's now.
	if _, err := g.fail(ctx, g.local, keys[:1], now.Add(5*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	wait, live, err := g.wait(ctx, g.local, keys, now)
	if err != nil || wait != 0 {
		t.Fatalf("wait = %v, %v; want 0: one failure is far below the limit", wait, err)
	}
	if len(live) != 1 || live[0] != keys[0].key {
		t.Fatalf("live = %v, want the IP counter", live)
	}
	// At the limit the delay starts (S025), counted from the last failure.
	for i := 1; i < 20; i++ {
		reached, err := g.fail(ctx, g.local, keys[:1], now.Add(5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		// The failure that brings the counter to its limit says so, once.
		if want := i == 19; (len(reached) == 1) != want {
			t.Fatalf("failure %d: reached = %v, want reached only at the limit (20)", i+1, reached)
		}
	}
	wait, _, _ = g.wait(ctx, g.local, keys, now)
	if want := lim.BaseDelay + 5*time.Millisecond; wait != want {
		t.Fatalf("at the limit: wait = %v, want %v", wait, want)
	}
}
