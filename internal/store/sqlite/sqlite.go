// Package sqlite is Latchkey's embedded default store: one SQLite file on
// modernc.org/sqlite (pure Go, no cgo), in WAL mode with foreign keys on and
// an embedded, numbered schema that Open brings up to date.
//
// SQLite allows one writer at a time. The Store therefore keeps two pools on
// the same file: a writer with a single connection, whose transactions begin
// IMMEDIATE (they take the write lock at BEGIN, so a read-then-write can never
// fail half way with SQLITE_BUSY), and a read-only pool with several
// connections, which WAL lets run beside the writer. Single-use operations
// (redeeming a code, rotating a refresh token, adding a key) run as one
// writer transaction or one conditional statement, so exactly one of several
// concurrent callers wins, within this process and across processes sharing
// the file.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkey/latchkey/internal/store"
)

// Store is a store.Store on one SQLite file. Create it with Open.
type Store struct {
	w       *pool // writer: one connection, BEGIN IMMEDIATE
	r       *pool // readers: query_only connections
	applied []string
	closed  atomic.Bool
}

var _ store.Store = (*Store)(nil)

// busyTimeoutMS is how long a connection waits for a lock held by another
// process before it gives up with SQLITE_BUSY.
const busyTimeoutMS = 5000

// Open opens the SQLite database at path (a file name; the file is created
// when missing, its directory is not), applies the migrations it lacks, and
// returns the Store. Applied lists the migrations that Open applied.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: open: invalid database path %q (a plain file name without ? or #)", path)
	}
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	applied, err := Migrate(ctx, w)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, unavailable(err))
	}
	return &Store{w: &pool{db: w}, r: &pool{db: r}, applied: applied}, nil
}

// dsn builds the connection string of the writer or of a reader. The
// pragmas run on every new connection.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Statement journals (a multi-row INSERT in a transaction keeps one)
	// and temporary b-trees stay in memory instead of temporary files: a
	// batch of audit events wrote its statement journal to disk, a quarter
	// of its cost (BenchmarkAppendBatchSQLite).
	q.Add("_pragma", "temp_store(MEMORY)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "1")
	}
	return path + "?" + q.Encode()
}

// Applied returns the names of the migrations that Open applied, oldest
// first; it is empty when the schema was already up to date.
func (s *Store) Applied() []string {
	return append([]string(nil), s.applied...)
}

// Ping reports whether both pools can reach the database file.
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range []*pool{s.r, s.w} {
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return s.fail("ping", err)
		}
	}
	return nil
}

// Close closes both pools. The last connection to close checkpoints the WAL
// into the database file.
func (s *Store) Close() error {
	s.closed.Store(true)
	if err := errors.Join(s.r.Close(), s.w.Close()); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// inTx runs fn in a writer transaction (BEGIN IMMEDIATE) and commits when fn
// returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx txn) error) error {
	tx, err := s.w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var missed []string
	defer func() {
		_ = tx.Rollback() // a no-op after Commit; frees the writer on error or panic
		s.w.prepareMissed(ctx, missed)
	}()
	if err := fn(txn{tx: tx, p: s.w, missed: &missed}); err != nil {
		return err
	}
	return tx.Commit()
}

// fail wraps err with the operation's name, mapping driver errors to the
// store's: no rows → ErrNotFound, a unique or primary-key violation →
// ErrConflict, a backend that cannot be reached → ErrUnavailable.
func (s *Store) fail(op string, err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) ||
		errors.Is(err, store.ErrReused) || errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	if isConflict(err) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrConflict, err)
	}
	if s.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w: store closed: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, unavailable(err))
}

// isConflict reports whether err is a UNIQUE or PRIMARY KEY violation.
func isConflict(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// unavailable wraps err with store.ErrUnavailable when SQLite reports that
// the file cannot be used right now (locked past busy_timeout, I/O error,
// cannot open, disk full), and returns err unchanged otherwise.
func unavailable(err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_PROTOCOL:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
