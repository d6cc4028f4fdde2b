package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// AddFailure counts one failure for key at now in one UPSERT and returns
// the updated counter. A counter whose last failure is more than window
// before now starts again at 1. The counter expires window after now.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, window time.Duration) (store.Throttle, error) {
	const q = `INSERT INTO throttles (key, failures, last_failure, expires_at) VALUES (?1, 1, ?2, ?3)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN ?2 - throttles.last_failure > ?4 THEN 1 ELSE throttles.failures + 1 END,
			last_failure = excluded.last_failure,
			expires_at = excluded.expires_at
		RETURNING key, failures, last_failure, expires_at`
	t, err := scanThrottle(s.w.QueryRowContext(ctx, q, key, now.UnixMilli(), now.Add(window).UnixMilli(), window.Milliseconds()))
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
	list, err := json.Marshal(keys)
	if err != nil {
		return nil, s.fail("get throttles", fmt.Errorf("encode keys: %w", err))
	}
	const q = `SELECT key, failures, last_failure, expires_at FROM throttles
		WHERE key IN (SELECT value FROM json_each(?)) AND expires_at >= ?
		ORDER BY key`
	rows, err := s.r.QueryContext(ctx, q, string(list), now.UnixMilli())
	if err != nil {
		return nil, s.fail("get throttles", err)
	}
	defer rows.Close()
	var out []store.Throttle
	for rows.Next() {
		t, err := scanThrottle(rows)
		if err != nil {
			return nil, s.fail("get throttles", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("get throttles", err)
	}
	return out, nil
}

// ClearFailures forgets the counter of key.
func (s *Store) ClearFailures(ctx context.Context, key string) error {
	if _, err := s.w.ExecContext(ctx, "DELETE FROM throttles WHERE key = ?", key); err != nil {
		return s.fail("clear failures", err)
	}
	return nil
}

// scanThrottle reads key, failures, last_failure, expires_at.
func scanThrottle(row scanner) (store.Throttle, error) {
	var t store.Throttle
	err := row.Scan(&t.Key, &t.Failures, timeCol{&t.LastFailure}, timeCol{&t.ExpiresAt})
	return t, err
}
