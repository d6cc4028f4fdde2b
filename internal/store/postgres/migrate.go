package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store/migration"
)

// embedded holds the numbered schema migrations, applied in name order.
//
//go:embed migrations/*.sql
var embedded embed.FS

// shipped is the directory of the migrations this binary ships: the .sql
// files at its root.
func shipped() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(err) // "migrations" is a valid path, so fs.Sub cannot fail
	}
	return sub
}

// migrationLockClass is the first key of the session advisory lock that
// serializes the migrations of a schema: "latc" in ASCII. The second is the
// hashtext of the schema. Two-key advisory locks never collide with the
// one-key locks of the signing keys and registrations.
const migrationLockClass int32 = 0x6c617463

// lockKeys are the two keys of the migration lock of the session's current
// schema, the one schema_migrations lives in. Advisory locks are
// database-wide: keyed by schema, deployments (or tests) that share a
// database in schemas of their own do not wait for each other's
// migrations. Releases up to 5a6596b held one database-wide key
// (0x6c617463686b6579) instead.
const lockKeys = "$1::int4, hashtext(coalesce(current_schema(), ''))"

// migrate applies the migrations in fsys that the schema_migrations table
// of the first schema on the search path does not list, each in its own
// transaction, and returns the names it applied, oldest first. It runs on a
// connection of its own that holds the migration advisory lock throughout
// (lockMigrations), so instances starting together apply each migration
// once; closing the connection releases the lock whatever happened. It
// refuses a database that lists a migration this binary does not know (a
// newer Latchkey created it).
func migrate(ctx context.Context, cfg *pgx.ConnConfig, fsys fs.FS) ([]string, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	if err := lockMigrations(ctx, conn); err != nil {
		return nil, err
	}
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       text PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`
	if _, err := conn.Exec(ctx, create); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	names, err := migrationNames(fsys)
	if err != nil {
		return nil, err
	}
	done, err := appliedNames(ctx, conn)
	if err != nil {
		return nil, err
	}
	for _, name := range done {
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("migrate: the database has migration %s, unknown to this binary: run a newer latchkey", name)
		}
	}
	var applied []string
	for _, name := range names {
		if slices.Contains(done, name) {
			continue
		}
		if err := applyMigration(ctx, conn, fsys, name); err != nil {
			return applied, err
		}
		applied = append(applied, name)
	}
	return applied, nil
}

// lockPoll is the pause between two attempts to take the migration lock.
const lockPoll = 50 * time.Millisecond

// lockMigrations takes the migration lock of the current schema on conn,
// waiting as long as ctx allows. It polls pg_try_advisory_lock instead of
// blocking in pg_advisory_lock: a blocked statement is an open transaction,
// and CREATE INDEX CONCURRENTLY in the session holding the lock waits for
// every open transaction to end, so an instance waiting for the lock and
// the instance building the index would wait for each other until
// PostgreSQL broke the cycle with 40P01 deadlock_detected. Between two
// polls the waiter's session runs nothing.
func lockMigrations(ctx context.Context, conn *pgx.Conn) error {
	for {
		var locked bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock("+lockKeys+")", migrationLockClass).Scan(&locked); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if locked {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrate: waiting for the migration lock: %w", context.Cause(ctx))
		case <-time.After(lockPoll):
		}
	}
}

// migrationNames lists the migrations in fsys in the order they apply.
func migrationNames(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: read migrations: %w", err)
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

// appliedNames lists the migrations recorded in schema_migrations.
func appliedNames(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM schema_migrations ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("migrate: list applied migrations: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("migrate: list applied migrations: %w", err)
	}
	return names, nil
}

// applyMigration runs migration name and records it in one transaction,
// or, when it builds indexes CONCURRENTLY (which PostgreSQL refuses in a
// transaction), statement by statement and then records it. Such a
// migration holds only CREATE INDEX CONCURRENTLY IF NOT EXISTS (checked by
// migration.Parse), so after a crash it runs again from the start; an
// index that a failed build left invalid is dropped and built again.
func applyMigration(ctx context.Context, conn *pgx.Conn, fsys fs.FS, name string) error {
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("migrate: read %s: %w", name, err)
	}
	m, err := migration.Parse(migration.Postgres, name, string(body))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if m.Concurrent {
		return applyConcurrent(ctx, conn, m)
	}
	wait, bound := 20*time.Millisecond, migrationBound
	for attempt := 1; ; attempt++ {
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// A migration that alters several tables takes their locks one
			// by one while the previous release serves. Holding some and
			// waiting for the next, it deadlocked with requests that held
			// the next and waited for the first: after deadlock_timeout
			// (1 s) PostgreSQL failed one of them with 40P01, a request or
			// the start-up (TestRollingUpgrade, TestMigrationBacksOffLocks).
			// So each lock is waited for briefly, and the whole file runs
			// (one simple-protocol statement) under a bound below
			// deadlock_timeout: no request waits behind it long enough to
			// be picked as a deadlock's victim. On either timeout it lets
			// go of everything and tries again; a file that needs longer
			// (a backfill) gets twice the bound each time it runs out.
			if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d; SET LOCAL statement_timeout = %d",
				migrationLockWait.Milliseconds(), bound.Milliseconds())); err != nil {
				return err
			}
			// Without arguments, Exec uses the simple protocol, which runs
			// a file of several statements.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (name) VALUES ($1)", name)
			return err
		})
		code := sqlState(err)
		if code != lockNotAvailable && code != queryCanceled || attempt == migrationAttempts || ctx.Err() != nil {
			break
		}
		if code == queryCanceled {
			bound = min(2*bound, 10*time.Minute)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("migrate: %s: %w", name, ctx.Err())
		}
		wait = min(2*wait, time.Second)
	}
	if err != nil {
		return fmt.Errorf("migrate: %s: %w", name, err)
	}
	return nil
}

// A migration waits at most migrationLockWait for one lock and runs for
// at most migrationBound (doubled when a file needs longer) before it lets
// go and tries again, up to migrationAttempts times. The bound stays under
// PostgreSQL's default deadlock_timeout of 1 s.
const (
	migrationLockWait = 200 * time.Millisecond
	migrationBound    = 800 * time.Millisecond
	migrationAttempts = 60
	lockNotAvailable  = "55P03" // lock_timeout
)

// applyConcurrent runs the statements of m one by one outside a
// transaction, then records m.
func applyConcurrent(ctx context.Context, conn *pgx.Conn, m migration.Migration) error {
	// Invalid indexes left by an interrupted CONCURRENTLY build, which IF
	// NOT EXISTS would otherwise keep.
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT i.indisvalid AND n.nspname = current_schema()`)
	if err != nil {
		return fmt.Errorf("migrate: %s: list invalid indexes: %w", m.Name, err)
	}
	invalid, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("migrate: %s: list invalid indexes: %w", m.Name, err)
	}
	for _, st := range m.Statements {
		for _, ix := range invalid {
			if strings.Contains(st, " "+ix+" ") {
				if _, err := conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+pgx.Identifier{ix}.Sanitize()); err != nil {
					return fmt.Errorf("migrate: %s: drop invalid index %s: %w", m.Name, ix, err)
				}
			}
		}
		if _, err := conn.Exec(ctx, st); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.Name, err)
		}
	}
	if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (name) VALUES ($1)", m.Name); err != nil {
		return fmt.Errorf("migrate: %s: record: %w", m.Name, err)
	}
	return nil
}

// Pending parses the shipped migrations that the database named by dsn
// has not applied, oldest first, without changing the database.
func Pending(ctx context.Context, dsn string) ([]migration.Migration, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect: %w", classify(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	fsys := shipped()
	names, err := migrationNames(fsys)
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrate: %w", classify(err))
	}
	var done []string
	if exists {
		if done, err = appliedNames(ctx, conn); err != nil {
			return nil, err
		}
		for _, name := range done {
			if !slices.Contains(names, name) {
				return nil, fmt.Errorf("migrate: the database has migration %s, unknown to this binary: run a newer latchkey", name)
			}
		}
	}
	var out []migration.Migration
	for _, name := range names {
		if slices.Contains(done, name) {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migrate: read %s: %w", name, err)
		}
		m, err := migration.Parse(migration.Postgres, name, string(body))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
