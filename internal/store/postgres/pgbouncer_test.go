package postgres_test

import (
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

// TestConformanceThroughPgBouncer runs the whole store conformance suite
// through PgBouncer in transaction pooling mode: no named prepared
// statement and no session state may cross a transaction. Each store gets
// a database entry of its own, with the direct connection for migrations
// and LISTEN.
func TestConformanceThroughPgBouncer(t *testing.T) {
	b := pgtest.StartBouncer(t, 4)
	storetest.Run(t, func(t *testing.T) store.Store {
		t.Helper()
		e := b.Reuse(t)
		opts := testOptions()
		opts.DirectURL = e.Direct
		s, err := postgres.Open(t.Context(), e.Pooled, opts)
		if err != nil {
			t.Fatalf("open through pgbouncer: %v\n%s", err, b.Log())
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
