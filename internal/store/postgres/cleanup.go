package postgres

import (
	"context"
	"time"
)

// expiredDelete is one kind of expired row and the statement removing up
// to $2 of them that expired before $1.
type expiredDelete struct{ kind, query string }

// expiredDeletes returns the statements of DeleteExpired, one kind each.
// Each picks its rows by primary key with FOR UPDATE SKIP LOCKED: rows
// another transaction holds (a code being redeemed, a grant a token is
// being inserted under) are left for the next run instead of waited for.
//
// Grants go last, so that a grant whose tokens this call removed can go in
// the same call. A grant is removed only when no refresh or opaque access
// token refers to it and it is revoked or past its absolute lifetime: a live
// grant with no rows left may still stand behind JWT access tokens, and
// removing it would make IsRevoked report them revoked.
func expiredDeletes() []expiredDelete {
	return []expiredDelete{
		{"auth codes", `DELETE FROM auth_codes WHERE digest IN
		(SELECT digest FROM auth_codes WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"device codes", `DELETE FROM device_codes WHERE digest IN
		(SELECT digest FROM device_codes WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"refresh tokens", `DELETE FROM refresh_tokens WHERE digest IN
		(SELECT digest FROM refresh_tokens WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"access tokens", `DELETE FROM access_tokens WHERE digest IN
		(SELECT digest FROM access_tokens WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"revoked jtis", `DELETE FROM revoked_jtis WHERE jti IN
		(SELECT jti FROM revoked_jtis WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"sessions", `DELETE FROM sessions WHERE digest IN
		(SELECT digest FROM sessions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"throttles", `DELETE FROM throttles WHERE key IN
		(SELECT key FROM throttles WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"replays", `DELETE FROM replays WHERE key IN
		(SELECT key FROM replays WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"pushed requests", `DELETE FROM pushed_requests WHERE digest IN
		(SELECT digest FROM pushed_requests WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"initial access tokens", `DELETE FROM initial_access_tokens WHERE id IN
		(SELECT id FROM initial_access_tokens WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		// The refresh tokens of a grant revoked or past its absolute
		// lifetime are refused whether kept or not, so they go at once
		// instead of at their own expiry, up to refresh_token_ttl later,
		// taken in the order of the grants' index; the grants below are
		// then taken in the same order, the first ones with no token left.
		// Each is a range of its own with ORDER BY … LIMIT: with an OR, or
		// without the order, the planner scanned both tables whole once a
		// backlog was a fifth of the grants (bench/gc, 2M of 12M).
		{"expired grants' refresh tokens", `DELETE FROM refresh_tokens WHERE digest IN
		(SELECT r.digest FROM grants g JOIN refresh_tokens r ON r.grant_id = g.id
		WHERE g.expires_at < $1 ORDER BY g.expires_at LIMIT $2 FOR UPDATE OF r SKIP LOCKED)`},
		{"revoked grants' refresh tokens", `DELETE FROM refresh_tokens WHERE digest IN
		(SELECT r.digest FROM grants g JOIN refresh_tokens r ON r.grant_id = g.id
		WHERE g.revoked_at < $1 ORDER BY g.revoked_at LIMIT $2 FOR UPDATE OF r SKIP LOCKED)`},
		// A grant goes once no refresh or opaque access token refers to it;
		// the candidates are the first of the range, so one held by an
		// opaque access token delays the others by its lifetime at most.
		{"expired grants", `DELETE FROM grants WHERE id IN
		(SELECT g.id FROM grants g WHERE g.id IN
			(SELECT id FROM grants WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)
		AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)
		AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.id)
		FOR UPDATE OF g SKIP LOCKED)`},
		{"revoked grants", `DELETE FROM grants WHERE id IN
		(SELECT g.id FROM grants g WHERE g.id IN
			(SELECT id FROM grants WHERE revoked_at < $1 ORDER BY revoked_at LIMIT $2)
		AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)
		AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.id)
		FOR UPDATE OF g SKIP LOCKED)`},
	}
}

// DeleteExpired removes up to limit rows of each kind that expired before
// now and reports how many it removed in all. Each kind is one short
// statement in its own transaction, so no lock is held for long. A limit
// below 1 removes nothing.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	total := 0
	for _, d := range expiredDeletes() {
		n, err := s.deleteBatch(ctx, d.query, now, limit)
		if err != nil {
			return total, s.fail("delete expired "+d.kind, err)
		}
		total += n
	}
	return total, nil
}

// deleteBatch runs one statement of DeleteExpired under the query timeout.
func (s *Store) deleteBatch(ctx context.Context, query string, now time.Time, limit int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, query, now, limit)
	return int(tag.RowsAffected()), err
}
