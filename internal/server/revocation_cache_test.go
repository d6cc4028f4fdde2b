package server_test

import (
	"context"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/testenv"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The revocation cache (database.cache_ttl) spares introspection
// a database round trip for a token checked moments ago. What it must
// never do: hide a revocation made through the same instance, or hide one
// made elsewhere for longer than the TTL (RFC 7009 §2, S069, S081).

// activeOf introspects tok as rs and returns the active member.
func (g grantFixture) activeOf(t *testing.T, tok string) bool {
	t.Helper()
	r := g.introspectAs(t, "rs", tok, "")
	if r.Status != http.StatusOK {
		t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["active"] == true
}

// onlyGrant is the one grant in the database.
func (g grantFixture) onlyGrant(t *testing.T) string {
	t.Helper()
	ids := g.queryStrings(t, "SELECT id FROM grants")
	if len(ids) != 1 {
		t.Fatalf("want one grant, have %v", ids)
	}
	return ids[0]
}

func TestRevocationElsewhereShowsWithinTTL(t *testing.T) {
	g := newGrantFixture(t, "jwt")
	at, _ := g.login(t)
	if !g.activeOf(t, at) {
		t.Fatal("a fresh access token is inactive")
	}
	// Another instance (or `latchkey user delete`) revokes the grant in the
	// shared database; this instance has not heard of it.
	if err := g.Store.RevokeGrant(context.Background(), g.onlyGrant(t), g.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if !g.activeOf(t, at) {
		t.Log("(the revocation showed before the TTL: allowed, just not required)")
	}
	g.Clock.Advance(config.Default().Database.CacheTTL.D() + time.Millisecond)
	if g.activeOf(t, at) {
		t.Fatal("a token revoked elsewhere is still active after database.cache_ttl")
	}
}

func TestRevocationCacheOff(t *testing.T) {
	g := newGrantFixtureOpts(t, "jwt", testenv.Options{NoCache: true})
	at, _ := g.login(t)
	if !g.activeOf(t, at) {
		t.Fatal("a fresh access token is inactive")
	}
	if err := g.Store.RevokeGrant(context.Background(), g.onlyGrant(t), g.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	if g.activeOf(t, at) {
		t.Fatal("with database.cache_ttl 0, a revocation in the database must show at once")
	}
}

// TestRevocationHereShowsAtOnce: /revoke and refresh-token reuse on this
// instance make the tokens inactive for the very next introspection,
// even though "active" answers for them were cached.
func TestRevocationHereShowsAtOnce(t *testing.T) {
	g := newGrantFixture(t, "jwt")

	at, _ := g.login(t)
	if !g.activeOf(t, at) {
		t.Fatal("a fresh access token is inactive")
	}
	wantRevoked200(t, g.revoke(t, at, "access_token"))
	if g.activeOf(t, at) {
		t.Fatal("introspection still says active right after /revoke of the access token")
	}

	at, rt := g.login(t)
	if !g.activeOf(t, at) {
		t.Fatal("a fresh access token is inactive")
	}
	next := wantToken(t, post(t, g.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", rt), basic("app", g.app)))
	at2 := next["access_token"].(string)
	if !g.activeOf(t, at2) {
		t.Fatal("the refreshed access token is inactive")
	}
	r := post(t, g.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", rt), basic("app", g.app))
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	if g.activeOf(t, at) || g.activeOf(t, at2) {
		t.Fatal("after a refresh token reuse the family's access tokens must be inactive at once (RFC 9700 §4.14.2)")
	}
}

// TestRevocationRacingIntrospection: introspections running while a
// token is revoked may say either, but every one that starts after
// /revoke answered must say inactive: a lookup that read the database
// before the revocation must not put its stale answer back in the cache.
func TestRevocationRacingIntrospection(t *testing.T) {
	g := newGrantFixtureWith(t, "jwt", generous)
	for round := range 5 {
		at, _ := g.login(t)
		var revokedAt atomic.Int64 // unix nanos once /revoke answered
		var stale atomic.Int32
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					started := time.Now().UnixNano()
					r := g.introspectAs(t, "rs", at, "")
					if r.Status != http.StatusOK {
						t.Errorf("introspect: %d %s", r.Status, r.Body)
						return
					}
					active := r.JSON(t)["active"] == true
					if rv := revokedAt.Load(); active && rv != 0 && started > rv {
						stale.Add(1)
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		wantRevoked200(t, g.revoke(t, at, "access_token"))
		revokedAt.Store(time.Now().UnixNano())
		time.Sleep(30 * time.Millisecond)
		close(stop)
		wg.Wait()
		if n := stale.Load(); n > 0 {
			t.Fatalf("round %d: %d introspections started after /revoke answered said active", round, n)
		}
	}
}
