package sqlite

import (
	"context"
	"time"
)

// UseOnce records key until exp in one UPSERT on the writer and reports
// whether it did: the conflict clause replaces only a record that has
// expired at now, so a live record changes nothing and no row is counted.
// The single writer connection, and SQLite's write lock across processes,
// make exactly one of several concurrent callers see its row counted.
func (s *Store) UseOnce(ctx context.Context, key string, exp, now time.Time) (bool, error) {
	const q = `INSERT INTO replays (key, expires_at) VALUES (?1, ?2)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE replays.expires_at <= ?3`
	res, err := s.w.ExecContext(ctx, q, key, exp.UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, s.fail("use once", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.fail("use once", err)
	}
	return n == 1, nil
}
