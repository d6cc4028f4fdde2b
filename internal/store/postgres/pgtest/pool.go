package pgtest

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pool hands out schemas that its tests may reuse one after another: a
// suite that opens a store per subtest (storetest) pays the migrations
// once per schema instead of once per subtest (about half a second each,
// most of a subtest's time). When a subtest ends, its schema's tables are
// emptied, schema_migrations kept, and the schema goes back to the pool;
// the next Open finds every migration applied. The schemas are dropped
// when the test that made the pool ends.
type Pool struct {
	parent testing.TB
	mu     sync.Mutex
	free   []string // DSNs of emptied schemas
}

// NewPool returns a pool whose schemas live until t ends. It skips t when
// the database cannot be reached, as DSN does.
func NewPool(t testing.TB) *Pool {
	t.Helper()
	return &Pool{parent: t}
}

// DSN returns the DSN of an empty schema for t: a reused one, or a fresh
// one made for the pool's test. Close what uses it in a t.Cleanup
// registered after DSN, so that it runs first.
func (p *Pool) DSN(t testing.TB) string {
	t.Helper()
	p.mu.Lock()
	var dsn string
	if n := len(p.free); n > 0 {
		dsn, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	if dsn == "" {
		dsn = DSN(p.parent)
	}
	t.Cleanup(func() {
		if err := empty(dsn); err != nil {
			t.Errorf("pgtest: empty the schema for the next test: %v", err)
			return // not reused: it is dropped with the others
		}
		p.mu.Lock()
		p.free = append(p.free, dsn)
		p.mu.Unlock()
	})
	return dsn
}

// empty truncates every table of dsn's schema but schema_migrations, and
// restarts their sequences.
func empty(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	schema := u.Query().Get("search_path")
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'`, schema)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		return err
	}
	ids := make([]string, len(tables))
	for i, name := range tables {
		ids[i] = pgx.Identifier{schema, name}.Sanitize()
	}
	_, err = conn.Exec(ctx, "TRUNCATE "+strings.Join(ids, ", ")+" RESTART IDENTITY CASCADE")
	return err
}
