package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestHotQueryPlans: every hot lookup and every gc delete is an index
// search, never a scan of a table or a whole index (issue 14: O(log n) at
// millions of rows). ANALYZE runs first on a modest seeded database, so
// the planner chooses as it would in production.
func TestHotQueryPlans(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.w.db.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	hot := map[string]string{
		"client by id":          "SELECT " + clientColumns + " FROM clients WHERE id = ?1",
		"user by username":      "SELECT " + userColumns + " FROM users WHERE username = ?1",
		"user by id":            "SELECT " + userColumns + " FROM users WHERE id = ?1",
		"refresh by digest":     "SELECT * FROM refresh_tokens WHERE digest = ?1",
		"refresh by grant":      "SELECT digest FROM refresh_tokens WHERE grant_id = ?1",
		"access by digest":      "SELECT * FROM access_tokens WHERE digest = ?1",
		"grant by id":           "SELECT * FROM grants WHERE id = ?1",
		"code by digest":        "SELECT * FROM auth_codes WHERE digest = ?1",
		"device code by digest": "SELECT * FROM device_codes WHERE digest = ?1",
		"session by digest":     "SELECT * FROM sessions WHERE digest = ?1",
		"revoked jti":           "SELECT 1 FROM revoked_jtis WHERE jti = ?1",
		"replay by key":         "SELECT 1 FROM replays WHERE key = ?1",
		"throttle by key":       "SELECT * FROM throttles WHERE key = ?1",
		"pushed by digest":      "SELECT * FROM pushed_requests WHERE digest = ?1",
		"consent":               "SELECT * FROM consents WHERE user_id = ?1 AND client_id = ?2",
		"cors origin":           originLookup,
		"operator clients":      "SELECT " + clientColumns + " FROM clients WHERE " + operatorSources,
		"config sync clients":   "SELECT id FROM clients WHERE source = ?1",
		"config sync users":     "SELECT username FROM users WHERE source = ?1",
	}
	for _, d := range expiredDeletes() {
		hot["gc "+d.kind] = d.query
	}
	explain := map[string][]any{}
	for name, q := range hot {
		explain[name] = []any{q, "a", "b"}
	}
	explain["gc audit batch"] = []any{auditOldestBatch, 1}
	explain["gc audit batch keys"] = []any{"DELETE FROM audit_keys WHERE batch = ?1", 1}
	for name, q := range map[string]store.AuditQuery{
		"audit by user":          {UserID: "u1", Newest: true, Cursor: 1 << 40},
		"audit by client":        {ClientID: "c1", Since: time.Unix(1, 0)},
		"audit by types":         {Types: []string{"token.issued", "signin.failure"}, Newest: true},
		"audit by user and type": {UserID: "u1", Types: []string{"token.issued"}},
	} {
		query, args, err := auditBatchQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		explain[name] = append([]any{query}, args...)
	}
	for name, qa := range explain {
		rows, err := s.r.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+qa[0].(string), qa[1:]...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, line := range plan {
			// "SCAN x" reads a whole table or index; "SCAN (subquery-n)"
			// reads the few rows of a LIMITed co-routine, "SCAN json_each"
			// the list of types a query names.
			if strings.HasPrefix(line, "SCAN ") && !strings.HasPrefix(line, "SCAN (subquery") &&
				!strings.HasPrefix(line, "SCAN json_each") {
				t.Errorf("%s scans: %s\nplan: %q", name, line, plan)
			}
		}
	}
}
