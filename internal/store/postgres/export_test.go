package postgres

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5"
)

// ChangesChannel is changesChannel, for the tests outside the package.
var ChangesChannel = changesChannel

// HoldMigrationLock takes the migration lock of conn's current schema, as
// an instance in the middle of its migrations holds it, until
// ReleaseMigrationLock or the end of the session.
func HoldMigrationLock(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, "SELECT pg_advisory_lock("+lockKeys+")", migrationLockClass)
	return err
}

// ReleaseMigrationLock releases what HoldMigrationLock took.
func ReleaseMigrationLock(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, "SELECT pg_advisory_unlock("+lockKeys+")", migrationLockClass)
	return err
}

// WithMigrations returns o with the migrations Open applies replaced by the
// .sql files at the root of fsys, so that a test can run migrations that
// never ship.
func WithMigrations(o Options, fsys fs.FS) Options {
	o.migrations = fsys
	return o
}
