package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// ListKeys returns every signing key, oldest first (ties by kid).
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.r.QueryContext(ctx, listKeysQuery)
	if err != nil {
		return nil, s.fail("list keys", err)
	}
	out, err := scanKeys(rows)
	if err != nil {
		return nil, s.fail("list keys", err)
	}
	return out, nil
}

// listKeysQuery selects what scanKeys reads.
const listKeysQuery = `SELECT kid, alg, private, public, created_at, active_at
		FROM signing_keys ORDER BY created_at, kid`

// scanKeys reads the rows of listKeysQuery and closes them.
func scanKeys(rows *sql.Rows) ([]store.Key, error) {
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		var k store.Key
		if err := rows.Scan(&k.KID, &k.Alg, &k.Private, &k.Public, timeCol{&k.CreatedAt}, timeCol{&k.ActiveAt}); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// AddKey stores k unless a key of the same algorithm was created at or after
// notSince, and reports whether it stored k. The check and the insert are
// one statement under SQLite's write lock, so of concurrent callers with the
// same notSince (and keys created at or after it) exactly one stores its key.
// A kid that exists already gives store.ErrConflict.
func (s *Store) AddKey(ctx context.Context, k store.Key, notSince time.Time) (bool, error) {
	const q = `INSERT INTO signing_keys (kid, alg, private, public, created_at, active_at)
		SELECT ?, ?, ?, ?, ?, ?
		WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE alg = ? AND created_at >= ?)`
	res, err := s.w.ExecContext(ctx, q, k.KID, k.Alg, blob(k.Private), blob(k.Public),
		msOf(k.CreatedAt), msOf(k.ActiveAt), k.Alg, notSince.UnixMilli())
	if err != nil {
		return false, s.fail("add key", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.fail("add key", err)
	}
	return n == 1, nil
}

// DeleteKey removes the key with kid, or returns store.ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, kid string) error {
	return s.execOne(ctx, "delete key", "DELETE FROM signing_keys WHERE kid = ?", kid)
}

// blob keeps a nil slice from becoming NULL in a NOT NULL BLOB column.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
