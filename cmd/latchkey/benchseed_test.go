package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/token"
)

// TestBenchSeed: latchkey bench seed fills SQLite and PostgreSQL with rows
// that read back as Latchkey's own (the user's password checks, a client
// loads with the template's settings, a grant's refresh token is found),
// spread over the users and clients, self-registered clients stay out of
// the operator list, and a second seeding is refused.
func TestBenchSeed(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var url string
			var open func() store.Store
			if backend == "sqlite" {
				path := filepath.Join(t.TempDir(), "seed.db")
				url = "sqlite://" + path
				open = func() store.Store {
					st, err := sqlite.Open(t.Context(), path)
					if err != nil {
						t.Fatal(err)
					}
					return st
				}
			} else {
				url = pgtest.DSN(t)
				open = func() store.Store {
					st, err := postgres.Open(t.Context(), url, postgres.Options{})
					if err != nil {
						t.Fatal(err)
					}
					return st
				}
			}
			vars := map[string]string{"LATCHKEY_SECRETS_SYSTEM": strings.Repeat("s", 32)}
			out := mustRun(t, vars, "", "bench", "seed", "--storage", url, "--users", "50", "--clients", "7",
				"--refresh-tokens", "120", "--expired", "40", "--batch", "16")
			if !strings.Contains(out, "seeded 50 users, 7 clients, 120 grants and refresh tokens and 40 expired ones") {
				t.Fatalf("output: %s", out)
			}
			st := open()
			defer st.Close()
			ctx := t.Context()
			u, err := st.GetUser(ctx, "seed-u-49")
			if err != nil || u.Username != "seed-user-49" || u.Source != "admin" {
				t.Fatalf("seed-u-49: %+v %v", u, err)
			}
			if ok, err := password.Check(seedPassword, u.PasswordHash); !ok || err != nil {
				t.Fatalf("the seeded password does not check: %v %v", ok, err)
			}
			c, err := st.GetClient(ctx, "seed-c-6")
			if err != nil || c.Source != "registration" || len(c.RedirectURIs) != 1 || len(c.Scopes) != 3 {
				t.Fatalf("seed-c-6: %+v %v", c, err)
			}
			g, err := st.GetGrant(ctx, "seed-g-119")
			if err != nil || g.ClientID != "seed-c-0" || g.UserID != "seed-u-19" { // 119 % 7, 119 % 50
				t.Fatalf("seed-g-119: %+v %v", g, err)
			}
			r, err := st.GetRefreshToken(ctx, token.Digest("seed-refresh-0"))
			if err != nil || r.GrantID != "seed-g-0" || !r.ExpiresAt.After(time.Now()) {
				t.Fatalf("the first refresh token: %+v %v", r, err)
			}
			if ops, err := st.ListOperatorClients(ctx); err != nil || len(ops) != 0 {
				t.Fatalf("operator clients after seeding: %d %v", len(ops), err)
			}
			if page, err := st.ListUserGrants(ctx, "seed-u-19", "", time.Now()); err != nil || len(page) != 3 { // 19, 69, 119
				t.Fatalf("grants of seed-u-19: %d %v", len(page), err)
			}
			// The expired grants are gc's, with their refresh tokens; the live ones stay.
			if x, err := st.GetGrant(ctx, "seed-gx-39"); err != nil || !x.ExpiresAt.Before(time.Now()) {
				t.Fatalf("seed-gx-39: %+v %v", x, err)
			}
			removed := 0
			for {
				n, err := st.DeleteExpired(ctx, time.Now(), 25)
				if err != nil {
					t.Fatal(err)
				}
				removed += n
				if n == 0 {
					break
				}
			}
			if removed != 80 {
				t.Errorf("gc removed %d rows, want the 40 expired grants and their 40 refresh tokens", removed)
			}
			if _, err := st.GetGrant(ctx, "seed-gx-0"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("an expired grant after gc: %v", err)
			}
			if _, err := st.GetGrant(ctx, "seed-g-119"); err != nil {
				t.Errorf("a live grant after gc: %v", err)
			}
			r2 := runCLI(t, vars, "", "bench", "seed", "--storage", url, "--users", "1")
			if r2.err == nil || !strings.Contains(r2.err.Error(), "seeded already") {
				t.Fatalf("second seeding: %v", r2.err)
			}
		})
	}
	if r := runCLI(t, nil, "", "bench", "seed", "--refresh-tokens", "5"); r.err == nil || !strings.Contains(r.err.Error(), "--users and --clients") {
		t.Fatalf("refresh tokens without users: %v", r.err)
	}
}
