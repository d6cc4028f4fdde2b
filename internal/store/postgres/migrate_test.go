package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/testkit"
)

// concurrentMigrations never ship: a table with rows, then an index built
// CONCURRENTLY on it, which waits for every transaction open on the
// database to end before it completes.
var concurrentMigrations = fstest.MapFS{
	"0001_table.sql": {Data: []byte(`-- latchkey: expand
CREATE TABLE things (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO things SELECT g, 'thing ' || g FROM generate_series(1, 20000) g;
`)},
	"0002_index.sql": {Data: []byte(`-- latchkey: expand
CREATE INDEX CONCURRENTLY IF NOT EXISTS things_name ON things (name);
`)},
}

// TestConcurrentOpenWithConcurrentIndex starts several instances at once
// on an empty schema whose migrations build an index CONCURRENTLY. The
// build waits for the transactions open elsewhere to end; an instance that
// waited for the migration lock inside a statement (pg_advisory_lock) was
// such a transaction, waiting in turn for the build's session: PostgreSQL
// broke the cycle with 40P01 deadlock_detected and that Open failed. Every
// Open must succeed, the migrations apply once, and the index is valid.
func TestConcurrentOpenWithConcurrentIndex(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 4
	opts := postgres.WithMigrations(testOptions(), concurrentMigrations)
	type opened struct {
		applied []string
		err     error
	}
	got := testkit.AtOnce(n, func(int) opened {
		s, err := postgres.Open(t.Context(), dsn, opts)
		if err != nil {
			return opened{err: err}
		}
		defer s.Close()
		return opened{applied: s.Applied()}
	})
	var all []string
	for i, o := range got {
		if o.err != nil {
			var pgErr *pgconn.PgError
			if errors.As(o.err, &pgErr) && pgErr.Code == "40P01" {
				t.Errorf("Open %d deadlocked: %v", i, o.err)
			} else {
				t.Errorf("Open %d: %v", i, o.err)
			}
			continue
		}
		all = append(all, o.applied...)
	}
	if t.Failed() {
		return
	}
	slices.Sort(all)
	if want := []string{"0001_table.sql", "0002_index.sql"}; !slices.Equal(all, want) || !slices.Equal(appliedInDB(t, dsn), want) {
		t.Errorf("%d concurrent Opens applied %v in all, the database lists %v; want each of %v once", n, all, appliedInDB(t, dsn), want)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var valid bool
	err = conn.QueryRow(t.Context(), `SELECT i.indisvalid FROM pg_index i
		JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = 'things_name' AND c.relnamespace = current_schema()::regnamespace`).Scan(&valid)
	if err != nil || !valid {
		t.Errorf("index things_name: valid %v, %v; want a valid index", valid, err)
	}
}

// TestMigrationLockWaitsOutsideATransaction holds the migration lock from
// another session, as an instance in the middle of a long migration would,
// and starts an Open: while it waits, no statement of its session may be
// running, since a CREATE INDEX CONCURRENTLY of the lock holder would wait
// for it.
func TestMigrationLockWaitsOutsideATransaction(t *testing.T) {
	dsn := pgtest.DSN(t)
	holder, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(t.Context())
	if err := postgres.HoldMigrationLock(t.Context(), holder); err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	waiter := pgtest.WithParam(dsn, "application_name", "lk_waiter")
	go func() {
		s, err := postgres.Open(t.Context(), waiter, postgres.WithMigrations(testOptions(), concurrentMigrations))
		if err == nil {
			s.Close()
		}
		opened <- err
	}()
	// Sample the waiter's session while it waits: it must be connected,
	// and never inside a transaction or a statement for longer than a poll.
	seen := false
	for range 40 {
		var states []string
		rows, err := holder.Query(t.Context(), `SELECT state || ':' || coalesce(wait_event_type, '') || ':' ||
				extract(epoch FROM now() - coalesce(xact_start, now()))::text
			FROM pg_stat_activity WHERE application_name = 'lk_waiter'`)
		if err != nil {
			t.Fatal(err)
		}
		if states, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			seen = true
			if strings.Contains(s, ":Lock:") {
				t.Fatalf("the waiting Open's session waits on a lock inside a statement (%s)", s)
			}
		}
		select {
		case err := <-opened:
			t.Fatalf("Open returned (%v) while another session held the migration lock", err)
		default:
		}
		time.Sleep(25 * time.Millisecond)
	}
	if !seen {
		t.Fatal("the waiting Open's session never showed in pg_stat_activity")
	}
	if err := postgres.ReleaseMigrationLock(t.Context(), holder); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatalf("Open after the lock was released: %v", err)
	}
}

// TestMigrationLockIsPerSchema holds the migration lock of one schema for
// the whole test: an Open on another schema of the same database does not
// wait for it (advisory locks are database-wide, so a single key made
// every deployment or test sharing the database queue behind the others'
// migrations), while one on the held schema waits.
func TestMigrationLockIsPerSchema(t *testing.T) {
	held, other := pgtest.DSN(t), pgtest.DSN(t)
	holder, err := pgx.Connect(t.Context(), held)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(t.Context())
	if err := postgres.HoldMigrationLock(t.Context(), holder); err != nil {
		t.Fatal(err)
	}
	// The context ends the wait with an error if Open has to wait.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, other, testOptions())
	if err != nil {
		t.Fatalf("Open on another schema while this one's migration lock is held: %v", err)
	}
	s.Close()
	ctx, cancel = context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if s, err := postgres.Open(ctx, held, testOptions()); err == nil {
		s.Close()
		t.Fatal("Open on the schema whose migration lock is held did not wait for it")
	} else if !strings.Contains(err.Error(), "waiting for the migration lock") {
		t.Fatalf("Open on the held schema: %v, want it to wait for the migration lock until its context ends", err)
	}
}

// alterTwoMigrations never ship: a first migration makes two tables, the
// second alters both, taking their locks one after the other, as 0019 did before it was split
// does to the tables the previous release writes while it serves.
var alterTwoMigrations = fstest.MapFS{
	"0001_tables.sql": {Data: []byte(`-- latchkey: expand
CREATE TABLE firsts (id bigint PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
CREATE TABLE seconds (id bigint PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
INSERT INTO firsts VALUES (1, 0); INSERT INTO seconds VALUES (1, 0);
`)},
	"0002_alter.sql": {Data: []byte(`-- latchkey: expand
ALTER TABLE firsts ADD COLUMN a text NOT NULL DEFAULT '';
ALTER TABLE seconds ADD COLUMN b text NOT NULL DEFAULT '';
`)},
}

// TestMigrationBacksOffLocks: a request of the running release holds a
// row of seconds and then reads firsts, while the new release's migration
// holds firsts and waits for seconds. Waiting without limit, the two
// deadlocked and PostgreSQL failed one of them with 40P01, the request or
// the start-up (found by TestRollingUpgrade on 0019). The migration must
// give way: the request commits, and the migration applies after it.
func TestMigrationBacksOffLocks(t *testing.T) {
	dsn := pgtest.DSN(t)
	first := fstest.MapFS{"0001_tables.sql": alterTwoMigrations["0001_tables.sql"]}
	s, err := postgres.Open(t.Context(), dsn, postgres.WithMigrations(testOptions(), first))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	req, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close(context.Background())
	tx, err := req.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "UPDATE seconds SET n = n + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	go func() {
		s, err := postgres.Open(context.Background(), dsn, postgres.WithMigrations(testOptions(), alterTwoMigrations))
		if err == nil {
			s.Close()
		}
		opened <- err
	}()
	// Once the migration holds firsts, the request's read of it queues
	// behind the migration, which waits for the request's row of seconds.
	waitFor(t, func() bool {
		var waiting bool
		err := req.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
			WHERE c.relname = 'seconds' AND NOT l.granted)`).Scan(&waiting)
		return err == nil && waiting
	})
	if _, err := tx.Exec(t.Context(), "SELECT n FROM firsts WHERE id = 1"); err != nil {
		t.Fatalf("the request failed while the migration ran: %v", err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatalf("the request's commit: %v", err)
	}
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("Open with the migration: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the migration never applied after the request ended")
	}
	if got := appliedInDB(t, dsn); !slices.Equal(got, []string{"0001_tables.sql", "0002_alter.sql"}) {
		t.Errorf("applied %v", got)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("the migration never waited for the request's lock")
}
