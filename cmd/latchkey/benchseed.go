package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

const benchSeedUsage = `bench seed [--config FILE] [--storage URL] --users N --clients N --refresh-tokens N [--expired N]

Fills the configured database with rows for the scale measurements
(docs/performance.md): N users seed-u-I (username seed-user-I, password
"seed-password", all sharing one argon2id hash), N self-registered clients
seed-c-I (source registration, so no request path lists them), and N grants
seed-g-I each with one refresh token, spread over the users and clients, and
with --expired N grants seed-gx-I past their lifetime, for gc to remove. Each
kind is one row written by Latchkey's own store methods, then cloned in batched
INSERT … SELECT statements of --batch rows, so every column holds what Latchkey
writes. The planner's statistics are refreshed at the end. A database seeded
already is refused.`

const benchSeedExample = `latchkey bench seed --storage sqlite://big.db --users 1000000 --clients 100000 --refresh-tokens 10000000`

// seedPassword is the password of every seeded user.
const seedPassword = "seed-password"

func runBenchSeed(ctx context.Context, args []string, e env) error {
	fs := newFlags("bench seed", benchSeedUsage, benchSeedExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	var users, clients, refresh, expired, batch int64
	fs.Int64Var(&users, "users", 0, "users to create (at least 1 when --refresh-tokens is given)")
	fs.Int64Var(&clients, "clients", 0, "clients to create (at least 1 when --refresh-tokens is given)")
	fs.Int64Var(&refresh, "refresh-tokens", 0, "grants to create, each with one refresh token")
	fs.Int64Var(&expired, "expired", 0, "grants to create past their lifetime, each with an expired refresh token, for gc to remove")
	fs.Int64Var(&batch, "batch", 50000, "rows per INSERT statement")
	if done, err := parse(fs, args); done {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("unexpected arguments: %v", fs.Args())}
	case users < 0 || clients < 0 || refresh < 0 || expired < 0 || batch < 1:
		return usageError{"--users, --clients, --refresh-tokens and --expired must be ≥ 0, --batch ≥ 1"}
	case refresh+expired > 0 && (users < 1 || clients < 1):
		return usageError{"--refresh-tokens and --expired need --users and --clients of at least 1: each grant is a user's at a client"}
	}
	return withStore(ctx, &cf, e, func(cfg config.Config, st store.Store, _ []string) error {
		seeder, ok := st.(store.Seeder)
		if !ok {
			return fmt.Errorf("bench seed: the %T store cannot be seeded", st)
		}
		if _, err := st.GetUser(ctx, "seed-u-0"); err == nil {
			return errors.New("bench seed: this database is seeded already (user seed-u-0 exists): seed a fresh one")
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		s := seeding{st: st, seeder: seeder, batch: batch, e: e, now: time.Now()}
		return s.run(ctx, users, clients, refresh, expired)
	})
}

// seeding is one run of latchkey bench seed.
type seeding struct {
	st     store.Store
	seeder store.Seeder
	batch  int64
	e      env
	now    time.Time
}

func (s seeding) run(ctx context.Context, users, clients, refresh, expired int64) error {
	start := time.Now()
	if users > 0 {
		hash, err := password.Hash(seedPassword, password.DefaultParams(), rand.Reader)
		if err != nil {
			return err
		}
		if err := s.st.CreateUser(ctx, store.User{ID: "seed-u-0", Username: "seed-user-0", PasswordHash: hash,
			Claims: map[string]any{"name": "Seeded User"}, Source: "admin", CreatedAt: s.now, UpdatedAt: s.now}); err != nil {
			return fmt.Errorf("bench seed: the first user: %w", err)
		}
		if err := s.clone(ctx, "users", "id", "seed-u-0", users, map[string]store.SeedValue{
			"id": {Prefix: "seed-u-"}, "username": {Prefix: "seed-user-"}}); err != nil {
			return err
		}
	}
	if clients > 0 {
		secret, _, err := token.New(token.PrefixClientSecret, rand.Reader)
		if err != nil {
			return err
		}
		c := clientFromConfig(config.Client{ID: "seed-c-0", Name: "Seeded client",
			RedirectURIs: []string{"https://seed.example/cb"},
			GrantTypes:   []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "read", "offline_access"}}, s.now)
		c.SecretHash = token.HashSecret(secret)
		c.Source = "registration"
		if err := s.st.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("bench seed: the first client: %w", err)
		}
		if err := s.clone(ctx, "clients", "id", "seed-c-0", clients, map[string]store.SeedValue{"id": {Prefix: "seed-c-"}}); err != nil {
			return err
		}
	}
	if refresh > 0 {
		if err := s.grants(ctx, "seed-g-", refresh, users, clients, false); err != nil {
			return err
		}
	}
	if expired > 0 {
		if err := s.grants(ctx, "seed-gx-", expired, users, clients, true); err != nil {
			return err
		}
	}
	if err := s.seeder.Analyze(ctx); err != nil {
		return err
	}
	fmt.Fprintf(s.e.stdout, "seeded %d users, %d clients, %d grants and refresh tokens and %d expired ones in %s (users' password: %s)\n",
		users, clients, refresh, expired, time.Since(start).Round(time.Millisecond), seedPassword)
	return nil
}

// grants seeds n grants named prefix+i, each with one refresh token,
// spread over the users and clients. Live ones are as a password sign-in
// leaves them (an absolute lifetime of 90 days, a refresh token of 30);
// expired ones are past both, so gc removes them.
func (s seeding) grants(ctx context.Context, prefix string, n, users, clients int64, expired bool) error {
	created, grantExp, tokenExp := s.now, s.now.Add(90*24*time.Hour), s.now.Add(30*24*time.Hour)
	if expired {
		created, grantExp, tokenExp = s.now.Add(-91*24*time.Hour), s.now.Add(-time.Hour), s.now.Add(-time.Hour)
	}
	g := store.Grant{ID: prefix + "0", ClientID: "seed-c-0", UserID: "seed-u-0", Scopes: []string{"openid", "read", "offline_access"},
		AuthTime: created, CreatedAt: created, ExpiresAt: grantExp}
	first := "seed-refresh-0"
	if expired {
		first = "seed-refresh-x0"
	}
	digest := token.Digest(first)
	if err := s.st.SaveIssue(ctx, store.Issue{Grant: &g, Refresh: &store.RefreshToken{Digest: digest, GrantID: g.ID,
		ClientID: g.ClientID, UserID: g.UserID, Scopes: g.Scopes, CreatedAt: created, ExpiresAt: tokenExp}}); err != nil {
		return fmt.Errorf("bench seed: the first grant %s: %w", g.ID, err)
	}
	spread := map[string]store.SeedValue{"client_id": {Prefix: "seed-c-", Mod: clients}, "user_id": {Prefix: "seed-u-", Mod: users}}
	grants := map[string]store.SeedValue{"id": {Prefix: prefix}}
	tokens := map[string]store.SeedValue{"digest": {Random: true}, "grant_id": {Prefix: prefix}}
	for k, v := range spread {
		grants[k], tokens[k] = v, v
	}
	if err := s.clone(ctx, "grants", "id", g.ID, n, grants); err != nil {
		return err
	}
	return s.clone(ctx, "refresh_tokens", "digest", digest, n, tokens)
}

// clone copies the row of table whose keyColumn is key into rows 1..n-1,
// --batch rows a statement, with a progress line every few statements.
func (s seeding) clone(ctx context.Context, table, keyColumn, key string, n int64, set map[string]store.SeedValue) error {
	start, last := time.Now(), time.Now()
	for from := int64(1); from < n; from += s.batch {
		to := min(from+s.batch, n)
		if err := s.seeder.CloneRows(ctx, table, keyColumn, key, set, from, to); err != nil {
			return fmt.Errorf("bench seed: %s %d..%d: %w", table, from, to-1, err)
		}
		if time.Since(last) > 5*time.Second {
			fmt.Fprintf(s.e.stderr, "  %s: %d of %d\n", table, to, n)
			last = time.Now()
		}
	}
	elapsed := time.Since(start)
	fmt.Fprintf(s.e.stdout, "%-15s %10d rows in %8s (%.0f rows/s)\n", table, n, elapsed.Round(time.Millisecond), float64(n)/max(elapsed.Seconds(), 1e-9))
	return nil
}
