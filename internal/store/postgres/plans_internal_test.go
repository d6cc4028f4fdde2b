package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// TestHotQueryPlans: every hot lookup, every gc delete and every audit
// listing has an index to walk (issue 14: O(log n) at millions of rows).
// The tables of a test schema are small, where a sequential scan is
// cheapest and the planner rightly picks it, so the plans are asked for
// with sequential scans disabled: a plan that still reads a table in full
// has no index it could use.
func TestHotQueryPlans(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.DSN(t), Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.pool.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	type query struct {
		sql  string
		args []any
	}
	hot := map[string]query{
		"client by id":          {"SELECT " + clientColumns + " FROM clients WHERE id = $1", []any{"a"}},
		"user by username":      {"SELECT * FROM users WHERE username = $1", []any{"a"}},
		"user by id":            {"SELECT * FROM users WHERE id = $1", []any{"a"}},
		"refresh by digest":     {"SELECT * FROM refresh_tokens WHERE digest = $1", []any{"a"}},
		"refresh by grant":      {"SELECT digest FROM refresh_tokens WHERE grant_id = $1", []any{"a"}},
		"access by digest":      {"SELECT * FROM access_tokens WHERE digest = $1", []any{"a"}},
		"grant by id":           {"SELECT * FROM grants WHERE id = $1", []any{"a"}},
		"grants of a user":      {"SELECT * FROM grants WHERE user_id = $1 AND client_id = $2", []any{"a", "b"}},
		"code by digest":        {"SELECT * FROM auth_codes WHERE digest = $1", []any{"a"}},
		"device code by digest": {"SELECT * FROM device_codes WHERE digest = $1", []any{"a"}},
		"session by digest":     {"SELECT * FROM sessions WHERE digest = $1", []any{"a"}},
		"sessions of a user":    {"SELECT * FROM sessions WHERE user_id = $1", []any{"a"}},
		"revoked jti":           {"SELECT 1 FROM revoked_jtis WHERE jti = $1", []any{"a"}},
		"replay by key":         {"SELECT 1 FROM replays WHERE key = $1", []any{"a"}},
		"throttle by key":       {"SELECT * FROM throttles WHERE key = $1", []any{"a"}},
		"pushed by digest":      {"SELECT * FROM pushed_requests WHERE digest = $1", []any{"a"}},
		"consent":               {"SELECT * FROM consents WHERE user_id = $1 AND client_id = $2", []any{"a", "b"}},
		"cors origin":           {originLookup, []any{"https://a.example"}},
		"operator clients":      {"SELECT " + clientColumns + " FROM clients WHERE " + operatorSources, nil},
		"config sync clients":   {"SELECT id FROM clients WHERE source = $1", []any{"config"}},
		"config sync users":     {"SELECT username FROM users WHERE source = $1", []any{"config"}},
		"gc audit events":       {`DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)`, []any{time.Now(), 10}},
	}
	for _, d := range expiredDeletes() {
		hot["gc "+d.kind] = query{d.query, []any{time.Now(), 10}}
	}
	for name, q := range map[string]store.AuditQuery{
		"audit by user":   {UserID: "u1", Newest: true, Cursor: 1 << 40},
		"audit by client": {ClientID: "c1", Since: time.Unix(1, 0)},
		"audit by types":  {Types: []string{"token.issued", "signin.failure"}, Newest: true},
		"audit by time":   {Since: time.Unix(1, 0), Until: time.Now()},
	} {
		where, args := auditWhere(q)
		hot[name] = query{"SELECT id FROM audit_events" + where + " ORDER BY id DESC LIMIT 100", args}
	}
	for name, q := range hot {
		plan := explain(t, s, q.sql, q.args)
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s reads a whole table:\n%s", name, plan)
		}
	}
}

// explain returns the plan of query, asked for with sequential scans off,
// in a transaction that is rolled back (EXPLAIN of a DELETE runs nothing,
// but the setting must not leak into the pool).
func explain(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	var lines []string
	err := pgx.BeginFunc(t.Context(), s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), "SET LOCAL enable_seqscan = off"); err != nil {
			return err
		}
		rows, err := tx.Query(t.Context(), "EXPLAIN "+query, args...)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		return errRollback
	})
	if err != nil && err != errRollback {
		t.Fatalf("explain %s: %v", query, err)
	}
	return strings.Join(lines, "\n")
}

// errRollback ends explain's transaction.
var errRollback = rollback{}

type rollback struct{}

func (rollback) Error() string { return "rollback" }
