package pgtest_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// TestBouncer checks the helper itself: two PgBouncers run at once on
// ports of their own, a pooled connection lands in its entry's schema
// (connect_query), and SHOW STATS counts its transactions.
func TestBouncer(t *testing.T) {
	a := pgtest.StartBouncer(t, 1)
	if os.Getenv(pgtest.EnvBouncerPort) == "" { // a fixed port holds one
		if b := pgtest.StartBouncer(t, 1); a.Addr() == b.Addr() {
			t.Fatalf("two bouncers on one address %s", a.Addr())
		}
	}
	e := a.Next(t)
	if !strings.Contains(e.Pooled, a.Addr()) || strings.Contains(e.Direct, a.Addr()) {
		t.Fatalf("pooled %s should reach %s and direct %s should not", e.Pooled, a.Addr(), e.Direct)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := a.Stats(ctx, e.Alias)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, e.Pooled+"&default_query_exec_mode=cache_describe")
	if err != nil {
		t.Fatalf("connect through pgbouncer: %v\n%s", err, a.Log())
	}
	defer conn.Close(context.Background())
	direct, err := pgx.Connect(ctx, e.Direct)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(context.Background())
	var pooledSchema, directSchema string
	for range 5 {
		if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&pooledSchema); err != nil {
			t.Fatal(err)
		}
	}
	if err := direct.QueryRow(ctx, "SELECT current_schema()").Scan(&directSchema); err != nil {
		t.Fatal(err)
	}
	if pooledSchema != directSchema || !strings.HasPrefix(pooledSchema, "lk_test_") {
		t.Errorf("through pgbouncer the schema is %q, directly %q: want the same lk_test_ schema", pooledSchema, directSchema)
	}
	// PgBouncer updates its counters every stats_period (1 s here).
	deadline := time.Now().Add(20 * time.Second)
	for {
		after, err := a.Stats(ctx, e.Alias)
		if err != nil {
			t.Fatal(err)
		}
		if after.Transactions-before.Transactions >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SHOW STATS counts %d transactions for %s after 5 queries, want at least 5", after.Transactions-before.Transactions, e.Alias)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(a.Log(), "db="+e.Alias) {
		t.Errorf("pgbouncer's log names no connection to %s:\n%s", e.Alias, a.Log())
	}
}
