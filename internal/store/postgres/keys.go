package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// ListKeys returns every signing key, oldest first (ties by kid).
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `SELECT kid, alg, private, public, created_at, active_at
		FROM signing_keys ORDER BY created_at, kid`
	rows, err := s.pool.Query(ctx, q)
	if err != nil {
		return nil, s.fail("list keys", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Key, error) {
		var k store.Key
		err := row.Scan(&k.KID, &k.Alg, &k.Private, &k.Public, tsCol{&k.CreatedAt}, tsCol{&k.ActiveAt})
		return k, err
	})
	if err != nil {
		return nil, s.fail("list keys", err)
	}
	return out, nil
}

// AddKey stores k unless a key of the same algorithm was created at or after
// notSince, and reports whether it stored k. A transaction advisory lock per
// algorithm serializes the callers, across processes: each one's check runs
// after the previous one committed, so of concurrent callers with the same
// notSince (and keys created at or after it) exactly one stores its key.
// A kid that exists already gives store.ErrConflict.
func (s *Store) AddKey(ctx context.Context, k store.Key, notSince time.Time) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var stored bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		const lock = `SELECT pg_advisory_xact_lock(hashtext('latchkey.keys.' || $1::text))`
		if _, err := tx.Exec(ctx, lock, k.Alg); err != nil {
			return err
		}
		const q = `INSERT INTO signing_keys (kid, alg, private, public, created_at, active_at)
			SELECT $1, $2, $3, $4, $5, $6
			WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE alg = $2 AND created_at >= $7)`
		tag, err := tx.Exec(ctx, q, k.KID, k.Alg, blob(k.Private), blob(k.Public),
			ts(k.CreatedAt), ts(k.ActiveAt), notSince)
		stored = tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, s.fail("add key", err)
	}
	return stored, nil
}

// DeleteKey removes the key with kid, or returns store.ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, kid string) error {
	return s.execOne(ctx, "delete key", "DELETE FROM signing_keys WHERE kid = $1", kid)
}
