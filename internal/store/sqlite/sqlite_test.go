package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/readcache"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testkit"
)

// open opens a fresh database file under t.TempDir, closed at cleanup.
func open(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// TestConformanceReadCache runs the suite through the read cache with a
// TTL longer than any test: every read that follows a write must see it,
// so a mutating method that forgot to purge fails here.
func TestConformanceReadCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return readcache.New(open(t), readcache.Options{TTL: time.Hour})
	})
}

// TestPragmas checks the settings of the Store's own connections, and the
// health of the file Open created.
func TestPragmas(t *testing.T) {
	s := open(t)
	for _, tc := range []struct{ pragma, writer, reader string }{
		{"integrity_check", "ok", "ok"},
		{"journal_mode", "wal", "wal"},
		{"foreign_keys", "1", "1"},
		{"busy_timeout", "5000", "5000"},
		{"synchronous", "1", "1"}, // NORMAL
		{"query_only", "0", "1"},
	} {
		w, r, err := s.Pragmas(t.Context(), tc.pragma)
		if err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if w != tc.writer || r != tc.reader {
			t.Errorf("PRAGMA %s = %q on the writer, %q on a reader; want %q, %q", tc.pragma, w, r, tc.writer, tc.reader)
		}
	}
	// foreign_key_check lists violations, one row each: there must be none.
	if _, _, err := s.Pragmas(t.Context(), "foreign_key_check"); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("PRAGMA foreign_key_check: %v, want no rows", err)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	first, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if got := first.Applied(); !slices.Contains(got, "0001_init.sql") {
		t.Errorf("first Open applied %v, want 0001_init.sql among them", got)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if got := second.Applied(); len(got) != 0 {
		t.Errorf("second Open applied %v, want nothing", got)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	applied, err := sqlite.Migrate(t.Context(), db)
	if err != nil || len(applied) != 0 {
		t.Errorf("Migrate on an up-to-date database = %v, %v; want nothing applied", applied, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(t.Context(), path); err == nil {
		t.Fatal("Open accepted a database with a migration unknown to this binary")
	}
}

func TestClosedIsUnavailable(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping after Close = %v, want ErrUnavailable", err)
	}
	if _, err := s.GetClient(t.Context(), "x"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetClient after Close = %v, want ErrUnavailable", err)
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, path := range []string{"", "a.db?mode=ro", filepath.Join(t.TempDir(), "missing", "dir", "x.db")} {
		if s, err := sqlite.Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// TestTwoStoresOneFile races two Stores on one file, as two processes
// would (say `latchkey serve` and `latchkey user add`): their writers
// serialize through SQLite's lock, so a code is still redeemed once.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	var stores [2]*sqlite.Store
	for i := range stores {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, stores[0].CreateClient(ctx, store.Client{ID: "app"}))
	must(t, stores[1].CreateUser(ctx, store.User{ID: "u1", Username: "alice"}))
	must(t, stores[0].CreateAuthCode(ctx, store.AuthCode{Digest: "code", ClientID: "app", UserID: "u1",
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))

	const n = 16
	errs := testkit.AtOnce(n, func(i int) error {
		g := store.Grant{ID: fmt.Sprintf("g%d", i), ClientID: "app", UserID: "u1", CreatedAt: now}
		return stores[i%2].RedeemAuthCode(ctx, "code", now, store.Issue{Grant: &g})
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("caller %d: %v, want ErrConflict", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d callers redeemed the code, want 1", wins)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
