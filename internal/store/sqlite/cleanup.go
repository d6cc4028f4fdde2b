package sqlite

import (
	"context"
	"time"
)

// expiredDeletes returns the statements that remove up to ?2 rows expired
// before ?1, one kind each.
//
// Grants go last, so that a grant whose tokens this call removed can go in
// the same call. A grant is removed only when no refresh or opaque access
// token refers to it and it is revoked or past its absolute lifetime: a live
// grant with no rows left may still stand behind JWT access tokens, and
// removing it would make IsRevoked report them revoked.
func expiredDeletes() []expiredDelete {
	return []expiredDelete{
		{"auth codes", `DELETE FROM auth_codes WHERE digest IN
		(SELECT digest FROM auth_codes WHERE expires_at < ?1 LIMIT ?2)`},
		{"device codes", `DELETE FROM device_codes WHERE digest IN
		(SELECT digest FROM device_codes WHERE expires_at < ?1 LIMIT ?2)`},
		{"refresh tokens", `DELETE FROM refresh_tokens WHERE digest IN
		(SELECT digest FROM refresh_tokens WHERE expires_at < ?1 LIMIT ?2)`},
		{"access tokens", `DELETE FROM access_tokens WHERE digest IN
		(SELECT digest FROM access_tokens WHERE expires_at < ?1 LIMIT ?2)`},
		{"revoked jtis", `DELETE FROM revoked_jtis WHERE jti IN
		(SELECT jti FROM revoked_jtis WHERE expires_at < ?1 LIMIT ?2)`},
		{"sessions", `DELETE FROM sessions WHERE digest IN
		(SELECT digest FROM sessions WHERE expires_at < ?1 LIMIT ?2)`},
		{"throttles", `DELETE FROM throttles WHERE key IN
		(SELECT key FROM throttles WHERE expires_at < ?1 LIMIT ?2)`},
		{"replays", `DELETE FROM replays WHERE key IN
		(SELECT key FROM replays WHERE expires_at < ?1 LIMIT ?2)`},
		{"pushed requests", `DELETE FROM pushed_requests WHERE digest IN
		(SELECT digest FROM pushed_requests WHERE expires_at < ?1 LIMIT ?2)`},
		{"initial access tokens", `DELETE FROM initial_access_tokens WHERE id IN
		(SELECT id FROM initial_access_tokens WHERE expires_at < ?1 LIMIT ?2)`},
		// The refresh tokens of a grant revoked or past its absolute
		// lifetime are refused whether kept or not, so they go at once
		// instead of at their own expiry, up to refresh_token_ttl later:
		// the grant then goes below, and the grants gc walks past stay as
		// few as those held by an opaque access token. Each range walks
		// grants in its index's order and skips those with no token left.
		{"dead grants' refresh tokens", `DELETE FROM refresh_tokens WHERE digest IN (SELECT digest FROM
		(SELECT digest FROM (SELECT r.digest FROM grants g INDEXED BY grants_expires
			JOIN refresh_tokens r ON r.grant_id = g.id WHERE g.expires_at < ?1 LIMIT ?2)
		UNION ALL
		SELECT digest FROM (SELECT r.digest FROM grants g INDEXED BY grants_revoked
			JOIN refresh_tokens r ON r.grant_id = g.id WHERE g.revoked_at > 0 AND g.revoked_at < ?1 LIMIT ?2)) LIMIT ?2)`},
		// Two index ranges (grants_expires, grants_revoked), named with
		// INDEXED BY and joined by UNION ALL (IN ignores a repeat): with an
		// OR of the two the planner may walk the whole table.
		{"grants", `DELETE FROM grants WHERE id IN (SELECT id FROM
		(SELECT id FROM (SELECT g.id FROM grants g INDEXED BY grants_expires WHERE g.expires_at < ?1
			AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)
			AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.id) LIMIT ?2)
		UNION ALL
		SELECT id FROM (SELECT g.id FROM grants g INDEXED BY grants_revoked WHERE g.revoked_at > 0
			AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)
			AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.id) LIMIT ?2)) LIMIT ?2)`},
	}
}

// expiredDelete is one kind of expired row and the statement removing it.
type expiredDelete struct{ kind, query string }

// DeleteExpired removes up to limit rows of each kind that expired before
// now and reports how many it removed in all. Each kind is one short
// statement, so the write lock is never held for long. A limit below 1
// removes nothing.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	total := 0
	for _, d := range expiredDeletes() {
		res, err := s.w.ExecContext(ctx, d.query, now.UnixMilli(), limit)
		if err != nil {
			return total, s.fail("delete expired "+d.kind, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.fail("delete expired "+d.kind, err)
		}
		total += int(n)
	}
	return total, nil
}
