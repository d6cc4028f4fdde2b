package cluster

// Read-only looks at the database behind the processes: integrity checks
// after a crash and row counts while the garbage collector runs. The same
// SQL serves SQLite (modernc.org/sqlite) and PostgreSQL (pgx), both through
// database/sql.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"

	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// openReadOnly opens the storage a configuration names, read-only: the
// SQLite file with mode=ro, or a PostgreSQL session whose transactions
// are read-only.
func openReadOnly(t *testing.T, storage string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if path, ok := strings.CutPrefix(storage, "sqlite://"); ok {
		db, err = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	} else {
		db, err = sql.Open("pgx", pgtest.WithParam(storage, "default_transaction_read_only", "on"))
	}
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// tables are the tables that grow with use, which DeleteExpired keeps in check.
var tables = []string{"auth_codes", "grants", "refresh_tokens", "access_tokens", "revoked_jtis", "sessions", "throttles"}

// countRows returns the number of rows of each of tables.
func countRows(ctx context.Context, db *sql.DB) (map[string]int, error) {
	out := make(map[string]int, len(tables))
	for _, tb := range tables {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+tb).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", tb, err)
		}
		out[tb] = n
	}
	return out, nil
}

// consistency are queries that count rows a half-done write would leave
// behind; each must find none.
var consistency = []struct{ what, query string }{
	{"consumed codes whose grant_id names no grant",
		`SELECT count(*) FROM auth_codes a WHERE a.consumed_at IS NOT NULL
		AND (a.grant_id IS NULL OR NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = a.grant_id))`},
	{"grants of the code client that no consumed code names",
		`SELECT count(*) FROM grants g WHERE g.client_id = 'web'
		AND NOT EXISTS (SELECT 1 FROM auth_codes a WHERE a.grant_id = g.id AND a.consumed_at IS NOT NULL)`},
	{"refresh tokens whose grant is missing",
		`SELECT count(*) FROM refresh_tokens r WHERE NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = r.grant_id)`},
	{"rotated refresh tokens whose successor is missing",
		`SELECT count(*) FROM refresh_tokens r WHERE r.next_digest IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM refresh_tokens n WHERE n.digest = r.next_digest)`},
	{"user grants without a refresh token",
		`SELECT count(*) FROM grants g WHERE g.user_id IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)`},
	{"opaque access tokens whose grant is missing",
		`SELECT count(*) FROM access_tokens a WHERE a.grant_id IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = a.grant_id)`},
}

// checkConsistency fails t for every half-written row it finds, and for a
// SQLite file that fails PRAGMA integrity_check or foreign_key_check.
func checkConsistency(t *testing.T, storage string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openReadOnly(t, storage)
	if strings.HasPrefix(storage, "sqlite://") {
		var res string
		if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Errorf("PRAGMA integrity_check = %q, %v; want ok", res, err)
		}
		rows, err := db.QueryContext(ctx, "PRAGMA foreign_key_check")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			t.Errorf("PRAGMA foreign_key_check found a row that breaks a foreign key")
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range consistency {
		var n int
		if err := db.QueryRowContext(ctx, c.query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != 0 {
			t.Errorf("%d %s, want none", n, c.what)
		}
	}
	counts, err := countRows(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rows: %v", counts)
}
