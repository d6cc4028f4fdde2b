package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// pool is a *sql.DB that prepares each query once and keeps the statement:
// parsing SQL is a quarter of the cost of a point query on modernc, and
// database/sql then prepares a kept statement once per connection. Queries
// are the constant strings of this package, so the cache stays small.
type pool struct {
	db    *sql.DB
	stmts sync.Map // query text → *sql.Stmt
}

// stmt returns the prepared statement of query, preparing it on first use.
func (p *pool) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := p.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// ExecContext runs query through its prepared statement.
func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs query through its prepared statement.
func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs query through its prepared statement. When the
// statement cannot be prepared, the query runs unprepared so that the
// returned row carries the error.
func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Close closes the kept statements and the pool.
func (p *pool) Close() error {
	var errs []error
	p.stmts.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(append(errs, p.db.Close())...)
}

// txn is a writer transaction that runs queries through the pool's
// prepared statements. The writer has a single connection, which the
// transaction holds, so a statement cannot be prepared on the pool here:
// one that is not prepared yet runs unprepared and is noted in missed, for
// prepareMissed to prepare once the transaction has ended.
type txn struct {
	tx     *sql.Tx
	p      *pool
	missed *[]string
}

// cached returns the transaction's copy of the prepared statement of query,
// or nil (and notes the miss) when it is not prepared yet.
func (t txn) cached(ctx context.Context, query string) *sql.Stmt {
	st, ok := t.p.stmts.Load(query)
	if !ok {
		*t.missed = append(*t.missed, query)
		return nil
	}
	return t.tx.StmtContext(ctx, st.(*sql.Stmt))
}

// ExecContext runs query in the transaction.
func (t txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.cached(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryRowContext runs query in the transaction.
func (t txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.cached(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// prepareMissed prepares the statements a finished transaction missed. A
// failure only means they run unprepared next time.
func (p *pool) prepareMissed(ctx context.Context, missed []string) {
	for _, q := range missed {
		_, _ = p.stmt(ctx, q)
	}
}
