package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store/migration"
)

// migrationFS holds the numbered schema migrations, applied in name order.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrate applies to db the embedded migrations that its schema_migrations
// table does not list, each in its own transaction, and returns the names it
// applied, oldest first. It refuses a database that lists a migration this
// binary does not know (a newer Latchkey created it). Running it again, or
// from several processes at once, applies nothing twice.
func Migrate(ctx context.Context, db *sql.DB) ([]string, error) {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       TEXT PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`
	if _, err := db.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", unavailable(err))
	}
	names, err := migrationNames()
	if err != nil {
		return nil, err
	}
	if err := checkKnown(ctx, db, names); err != nil {
		return nil, err
	}
	var applied []string
	for _, name := range names {
		ok, err := applyMigration(ctx, db, name)
		if err != nil {
			return applied, err
		}
		if ok {
			applied = append(applied, name)
		}
	}
	return applied, nil
}

// migrationNames lists the embedded migrations in the order they apply.
func migrationNames() ([]string, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read embedded migrations: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// checkKnown refuses a database that has applied a migration missing here.
func checkKnown(ctx context.Context, db *sql.DB, names []string) error {
	rows, err := db.QueryContext(ctx, "SELECT name FROM schema_migrations ORDER BY name")
	if err != nil {
		return fmt.Errorf("migrate: list applied migrations: %w", unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("migrate: list applied migrations: %w", err)
		}
		if !slices.Contains(names, name) {
			return fmt.Errorf("migrate: the database has migration %s, unknown to this binary: run a newer latchkey", name)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrate: list applied migrations: %w", unavailable(err))
	}
	return nil
}

// applyMigration runs migration name in one transaction unless it is
// recorded already, and reports whether it ran. The transaction begins
// IMMEDIATE, so a second process waits and then sees the record.
func applyMigration(ctx context.Context, db *sql.DB, name string) (bool, error) {
	body, err := migrationFS.ReadFile("migrations/" + name)
	if err != nil {
		return false, fmt.Errorf("migrate: read %s: %w", name, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %s: begin: %w", name, unavailable(err))
	}
	defer tx.Rollback()

	var done bool
	err = tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = ?)", name).Scan(&done)
	if err != nil {
		return false, fmt.Errorf("migrate: %s: %w", name, unavailable(err))
	}
	if done {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return false, fmt.Errorf("migrate: %s: %w", name, err)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", name, time.Now().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("migrate: %s: record: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate: %s: commit: %w", name, unavailable(err))
	}
	return true, nil
}

// Pending parses the embedded migrations that the database at path has not
// applied, oldest first, without changing the database (a missing file has
// applied none).
func Pending(ctx context.Context, path string) ([]migration.Migration, error) {
	names, err := migrationNames()
	if err != nil {
		return nil, err
	}
	var done []string
	if _, err := os.Stat(path); err == nil {
		db, err := sql.Open("sqlite", dsn(path, false))
		if err != nil {
			return nil, fmt.Errorf("migrate: open %s: %w", path, err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&n); err != nil {
			return nil, fmt.Errorf("migrate: %w", unavailable(err))
		}
		if n > 0 {
			if err := checkKnown(ctx, db, names); err != nil {
				return nil, err
			}
			rows, err := db.QueryContext(ctx, "SELECT name FROM schema_migrations")
			if err != nil {
				return nil, fmt.Errorf("migrate: %w", unavailable(err))
			}
			defer rows.Close()
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					return nil, err
				}
				done = append(done, name)
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}
	var out []migration.Migration
	for _, name := range names {
		if slices.Contains(done, name) {
			continue
		}
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		m, err := migration.Parse(migration.SQLite, name, string(body))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
