// Package postgres is Latchkey's scale-out store: PostgreSQL through a pgx
// connection pool, so that several Latchkey instances can share one
// database. Open brings the embedded, numbered schema up to date under an
// advisory lock, so instances that start together migrate once.
//
// Single-use operations rely on PostgreSQL's row locks rather than on a
// single writer: redeeming a code is a conditional UPDATE whose row lock
// decides the one winner; rotating a refresh token locks its grant (the
// family) and then the token before applying the rules; adding a signing key
// takes a transaction advisory lock per algorithm; counting a failure is one
// UPSERT. Exactly one of several concurrent callers wins, whichever process
// they run in.
//
// Transactions run at READ COMMITTED, PostgreSQL's default: every statement
// sees what was committed before it started, which is what the re-reads after
// a lock wait depend on.
package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/latchkey/latchkey/internal/store"
)

// Options tunes the pool. Zero values keep pgx's defaults (and no query
// timeout).
type Options struct {
	// MaxConns caps the connections this Store opens.
	MaxConns int32
	// ConnectTimeout bounds each attempt to open a connection.
	ConnectTimeout time.Duration
	// QueryTimeout bounds each call of a Store method whose context has no
	// deadline of its own.
	QueryTimeout time.Duration
	// DirectURL, when set, reaches the database itself while dsn goes
	// through a transaction-pooling PgBouncer: the migration lock and
	// LISTEN, which need a session of their own, use it. Then the pool
	// uses QueryExecModeCacheDescribe (no named prepared statements, which
	// transaction pooling breaks) unless dsn sets default_query_exec_mode.
	DirectURL string
	// Tracer, when set, traces the pool's queries (a span per query, a
	// child of the caller's span); the migrations and the LISTEN session
	// are not traced.
	Tracer pgx.QueryTracer

	// migrations replaces the shipped migrations, for tests (see
	// WithMigrations in export_test.go).
	migrations fs.FS
}

// Store is a store.Store on a PostgreSQL database. Create it with Open.
type Store struct {
	pool         *pgxpool.Pool
	queryTimeout time.Duration
	applied      []string
	closed       atomic.Bool
	// direct is the configuration of the session connections (LISTEN).
	direct *pgx.ConnConfig
	// channel announces changes to the instances sharing the schema.
	channel string
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string; runtime parameters such as search_path are passed
// on to the server), applies the migrations it lacks, and returns the Store.
// Applied lists the migrations that Open applied.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	direct := cfg.ConnConfig
	if opts.DirectURL != "" {
		if direct, err = pgx.ParseConfig(opts.DirectURL); err != nil {
			return nil, fmt.Errorf("postgres: open: direct_url: %w", err)
		}
		if opts.ConnectTimeout > 0 {
			direct.ConnectTimeout = opts.ConnectTimeout
		}
		if _, set := cfg.ConnConfig.RuntimeParams["default_query_exec_mode"]; !set && !strings.Contains(dsn, "default_query_exec_mode") {
			cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
		}
	}
	migrations := opts.migrations
	if migrations == nil {
		migrations = shipped()
	}
	applied, err := migrate(ctx, direct, migrations)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", classify(err))
	}
	if opts.Tracer != nil {
		if direct == cfg.ConnConfig {
			direct = direct.Copy()
		}
		cfg.ConnConfig.Tracer = opts.Tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", classify(err))
	}
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", classify(err))
	}
	return &Store{pool: pool, queryTimeout: opts.QueryTimeout, applied: applied, channel: changesChannel(schema), direct: direct}, nil
}

// Applied returns the names of the migrations that Open applied, oldest
// first; it is empty when the schema was already up to date.
func (s *Store) Applied() []string {
	return append([]string(nil), s.applied...)
}

// Ping reports whether the database can be reached.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.pool.Close()
	return nil
}

// bound applies the query timeout to ctx unless it has a deadline already.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || s.queryTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.queryTimeout)
}

// inTx runs fn in a READ COMMITTED transaction and commits when fn returns
// nil; otherwise, or on panic, it rolls back.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, fn)
}

// batcher is the pool, where a batch runs as one implicit transaction, or
// a transaction.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// execOne runs a statement that must touch a row, and returns
// store.ErrNotFound when it touched none.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return s.fail(op, err)
	}
	if tag.RowsAffected() == 0 {
		return s.fail(op, store.ErrNotFound)
	}
	return nil
}

// exec runs a statement whose row count does not matter.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if _, err := s.pool.Exec(ctx, query, args...); err != nil {
		return s.fail(op, err)
	}
	return nil
}
