package postgres

import (
	"context"
	"time"
)

// UseOnce records key until exp in one UPSERT and reports whether it did.
// The conflict clause replaces only a record that has expired at now, and
// PostgreSQL evaluates it under the row's lock on the latest committed
// version: of several concurrent callers, in any number of instances,
// exactly one inserts or replaces the row, and the others touch nothing.
func (s *Store) UseOnce(ctx context.Context, key string, exp, now time.Time) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `INSERT INTO replays (key, expires_at) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE replays.expires_at <= $3`
	tag, err := s.pool.Exec(ctx, q, key, exp, now)
	if err != nil {
		return false, s.fail("use once", err)
	}
	return tag.RowsAffected() == 1, nil
}
