package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// AddFailure counts one failure for key at now in one UPSERT, which
// PostgreSQL applies under the row's lock, so concurrent callers all count.
// It returns the updated counter. A counter whose last failure is more than
// window before now starts again at 1. The counter expires window after now.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (store.Throttle, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `INSERT INTO throttles (key, failures, last_failure, expires_at) VALUES ($1, 1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN excluded.last_failure - throttles.last_failure > $4::interval
				THEN 1 ELSE throttles.failures + 1 END,
			last_failure = excluded.last_failure,
			expires_at = excluded.expires_at
		RETURNING key, failures, last_failure, expires_at`
	t, err := scanThrottle(s.pool.QueryRow(ctx, q, key, now, now.Add(window), window))
	if err != nil {
		return store.Throttle{}, s.fail("add failure", err)
	}
	return t, nil
}

// GetThrottles returns, ordered by key, the counters of keys that exist
// and whose last failure is within their window at now.
func (s *Store) GetThrottles(ctx context.Context, keys []string, now time.Time) ([]store.Throttle, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `SELECT key, failures, last_failure, expires_at FROM throttles
		WHERE key = ANY ($1) AND expires_at >= $2
		ORDER BY key`
	rows, err := s.pool.Query(ctx, q, keys, now)
	if err != nil {
		return nil, s.fail("get throttles", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Throttle, error) { return scanThrottle(row) })
	if err != nil {
		return nil, s.fail("get throttles", err)
	}
	return out, nil
}

// ClearFailures forgets the counter of key.
func (s *Store) ClearFailures(ctx context.Context, key string) error {
	return s.exec(ctx, "clear failures", "DELETE FROM throttles WHERE key = $1", key)
}

// scanThrottle reads key, failures, last_failure, expires_at.
func scanThrottle(row pgx.Row) (store.Throttle, error) {
	var t store.Throttle
	err := row.Scan(&t.Key, &t.Failures, tsCol{&t.LastFailure}, tsCol{&t.ExpiresAt})
	return t, err
}
