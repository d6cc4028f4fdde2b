package postgres

import "io/fs"

// ChangesChannel is changesChannel, for the tests outside the package.
var ChangesChannel = changesChannel

// MigrationLock is the key of the migration advisory lock.
const MigrationLock = migrationLock

// WithMigrations returns o with the migrations Open applies replaced by the
// .sql files at the root of fsys, so that a test can run migrations that
// never ship.
func WithMigrations(o Options, fsys fs.FS) Options {
	o.migrations = fsys
	return o
}
