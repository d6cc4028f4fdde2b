package postgres_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/readcache"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testkit"
)

// testOptions are the pool settings of the tests: short enough that a hang
// fails fast.
func testOptions() postgres.Options {
	return postgres.Options{MaxConns: 8, ConnectTimeout: 5 * time.Second, QueryTimeout: 10 * time.Second}
}

// open opens a store on dsn, closed at cleanup.
func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite on schemas reused from subtest to
// subtest, emptied between them (pgtest.Pool): the migrations run once
// per schema, not once per subtest. TestMigrationsIdempotent and the
// concurrent opens start from fresh schemas.
func TestConformance(t *testing.T) {
	pool := pgtest.NewPool(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pool.DSN(t)) })
}

// TestConformanceReadCache runs the suite through the read cache with a
// TTL longer than any test: every read that follows a write must see it,
// so a mutating method that forgot to purge fails here.
func TestConformanceReadCache(t *testing.T) {
	pool := pgtest.NewPool(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return readcache.New(open(t, pool.DSN(t)), readcache.Options{TTL: time.Hour})
	})
}

// appliedInDB lists the migrations that schema_migrations records.
func appliedInDB(t *testing.T, dsn string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), "SELECT name FROM schema_migrations ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestMigrationsIdempotent(t *testing.T) {
	dsn := pgtest.DSN(t)
	first := open(t, dsn)
	if got := first.Applied(); !slices.Contains(got, "0001_init.sql") || !slices.Equal(got, appliedInDB(t, dsn)) {
		t.Errorf("first Open applied %v, want every migration, 0001_init.sql among them", got)
	}
	second := open(t, dsn)
	if got := second.Applied(); len(got) != 0 {
		t.Errorf("second Open applied %v, want nothing", got)
	}
}

// TestConcurrentOpen starts several instances at once on an empty schema,
// as a deployment rolling out N replicas does: the advisory lock lets one
// apply the migrations while the others wait, then find nothing to do.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 4
	type opened struct {
		applied []string
		err     error
	}
	got := testkit.AtOnce(n, func(int) opened {
		s, err := postgres.Open(t.Context(), dsn, testOptions())
		if err != nil {
			return opened{err: err}
		}
		defer s.Close()
		return opened{applied: s.Applied()}
	})
	var all []string
	for i, o := range got {
		if o.err != nil {
			t.Fatalf("Open %d: %v", i, o.err)
		}
		all = append(all, o.applied...)
	}
	slices.Sort(all)
	if want := appliedInDB(t, dsn); len(want) < 2 || !slices.Equal(all, want) {
		t.Errorf("%d concurrent Opens applied %v in all, want each of %v once", n, all, want)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	open(t, dsn)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), "INSERT INTO schema_migrations (name) VALUES ('9999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(t.Context(), dsn, testOptions()); err == nil {
		s.Close()
		t.Fatal("Open accepted a database with a migration unknown to this binary")
	}
}

// TestTwoStoresRace races two Stores, each with its own pool, on one
// schema, as two Latchkey instances behind a load balancer would: a code
// is redeemed once and a refresh token rotated once.
func TestTwoStoresRace(t *testing.T) {
	dsn := pgtest.DSN(t)
	stores := [2]*postgres.Store{open(t, dsn), open(t, dsn)}
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, stores[0].CreateClient(ctx, store.Client{ID: "app"}))
	must(t, stores[1].CreateUser(ctx, store.User{ID: "u1", Username: "alice"}))
	must(t, stores[0].CreateAuthCode(ctx, store.AuthCode{Digest: "code", ClientID: "app", UserID: "u1",
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))
	g := store.Grant{ID: "g", ClientID: "app", UserID: "u1", CreatedAt: now}
	rt := store.RefreshToken{Digest: "rt", GrantID: "g", ClientID: "app", UserID: "u1",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, stores[1].SaveIssue(ctx, store.Issue{Grant: &g, Refresh: &rt}))

	const n = 8
	errs := testkit.AtOnce(n, func(i int) error {
		g := store.Grant{ID: fmt.Sprintf("g%d", i), ClientID: "app", UserID: "u1", CreatedAt: now}
		return stores[i%2].RedeemAuthCode(ctx, "code", now, store.Issue{Grant: &g})
	})
	oneWinner(t, "RedeemAuthCode", errs, store.ErrConflict)

	errs = testkit.AtOnce(n, func(i int) error {
		next := rt
		next.Digest = fmt.Sprintf("rt%d", i)
		_, err := stores[i%2].RotateRefreshToken(ctx, store.Rotation{OldDigest: "rt", ClientID: "app", Next: next, Now: now})
		return err
	})
	oneWinner(t, "RotateRefreshToken", errs, store.ErrReused)
}

// TestBatchesAreAtomic checks the writes that go out as one batch without
// an explicit transaction (PostgreSQL runs a pipeline up to its Sync as one
// implicit transaction): when a later insert fails, the earlier ones are
// undone.
func TestBatchesAreAtomic(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, s.CreateClient(ctx, store.Client{ID: "app"}))
	g1 := store.Grant{ID: "g1", ClientID: "app", CreatedAt: now}
	taken := store.AccessToken{Digest: "at", JTI: "j", GrantID: "g1", ClientID: "app", Subject: "app",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.SaveIssue(ctx, store.Issue{Grant: &g1, Access: &taken}))

	g2 := store.Grant{ID: "g2", ClientID: "app", CreatedAt: now}
	rt := store.RefreshToken{Digest: "rt", GrantID: "g2", ClientID: "app", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	err := s.SaveIssue(ctx, store.Issue{Grant: &g2, Refresh: &rt, Access: &taken})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("SaveIssue with a taken access token digest: %v, want ErrConflict", err)
	}
	if _, err := s.GetGrant(ctx, "g2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetGrant(g2) after the failed SaveIssue: %v, want ErrNotFound", err)
	}
	if _, err := s.GetRefreshToken(ctx, "rt"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefreshToken(rt) after the failed SaveIssue: %v, want ErrNotFound", err)
	}
}

// TestFamilyLockOrder races, on two Stores, revocations of a grant with
// reuse of its rotated token and rotation of its active one. Every path
// that touches several rows of a family locks the grant row first, so none
// of them deadlocks (locking only the token would: a reuse holding the old
// token waits for the grant, which RevokeGrant holds while it waits for the
// old token). The family always ends revoked.
func TestFamilyLockOrder(t *testing.T) {
	dsn := pgtest.DSN(t)
	stores := [2]*postgres.Store{open(t, dsn), open(t, dsn)}
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, stores[0].CreateClient(ctx, store.Client{ID: "app"}))
	rotate := func(s *postgres.Store, old, next string) error {
		rt := store.RefreshToken{Digest: next, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		_, err := s.RotateRefreshToken(ctx, store.Rotation{OldDigest: old, ClientID: "app", Next: rt, Now: now})
		return err
	}
	for round := range 50 {
		id := fmt.Sprintf("g%d", round)
		g := store.Grant{ID: id, ClientID: "app", CreatedAt: now}
		rt := store.RefreshToken{Digest: id + "-a", GrantID: id, ClientID: "app", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		must(t, stores[0].SaveIssue(ctx, store.Issue{Grant: &g, Refresh: &rt}))
		must(t, rotate(stores[0], id+"-a", id+"-b"))
		errs := testkit.AtOnce(6, func(i int) error {
			s := stores[i%2]
			switch i % 3 {
			case 0:
				return s.RevokeGrant(ctx, id, now)
			case 1:
				return rotate(s, id+"-a", fmt.Sprintf("%s-x%d", id, i)) // reuse
			default:
				return rotate(s, id+"-b", fmt.Sprintf("%s-c%d", id, i))
			}
		})
		for i, err := range errs {
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrReused) {
				t.Fatalf("round %d, caller %d: %v", round, i, err)
			}
		}
		if revoked, err := stores[1].IsRevoked(ctx, "", id); err != nil || !revoked {
			t.Fatalf("round %d: IsRevoked = %v, %v; want the family revoked", round, revoked, err)
		}
	}
}

// oneWinner fails unless exactly one error is nil and the others are loser.
func oneWinner(t *testing.T, what string, errs []error, loser error) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loser):
			t.Errorf("%s: caller %d: %v, want %v", what, i, err, loser)
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d callers succeeded, want 1", what, wins)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
