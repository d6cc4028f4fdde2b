package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// insertAccess stores an opaque access token.
func insertAccess(ctx context.Context, tx execer, a store.AccessToken) error {
	const q = `INSERT INTO access_tokens (digest, jti, grant_id, client_id, subject, user_id,
		scopes, audience, jkt, act, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := tx.ExecContext(ctx, q, a.Digest, a.JTI, nullOf(a.GrantID), a.ClientID, a.Subject, nullOf(a.UserID),
		listOf(a.Scopes), listOf(a.Audience), a.JKT, a.Act, msOf(a.CreatedAt), msOf(a.ExpiresAt))
	if err != nil {
		return fmt.Errorf("access token: %w", err)
	}
	return nil
}

// GetAccessToken returns the opaque access token with digest, expired or
// not, or store.ErrNotFound when it is unknown or revoked (itself or through
// its grant).
func (s *Store) GetAccessToken(ctx context.Context, digest string) (store.AccessToken, error) {
	const q = `SELECT a.digest, a.jti, a.grant_id, a.client_id, a.subject, a.user_id, a.scopes, a.audience,
		a.jkt, a.act, a.created_at, a.expires_at
		FROM access_tokens a LEFT JOIN grants g ON g.id = a.grant_id
		WHERE a.digest = ? AND a.revoked_at IS NULL AND g.revoked_at IS NULL`
	var a store.AccessToken
	err := s.r.QueryRowContext(ctx, q, digest).Scan(&a.Digest, &a.JTI, textCol{&a.GrantID}, &a.ClientID,
		&a.Subject, textCol{&a.UserID}, listCol{&a.Scopes}, listCol{&a.Audience}, &a.JKT, &a.Act,
		timeCol{&a.CreatedAt}, timeCol{&a.ExpiresAt})
	if err != nil {
		return store.AccessToken{}, s.fail("get access token", err)
	}
	return a, nil
}

// RevokeJTI records that the JWT access token jti is revoked until exp.
// Revoking again keeps the later of the two expiries.
func (s *Store) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	const q = `INSERT INTO revoked_jtis (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`
	if _, err := s.w.ExecContext(ctx, q, jti, exp.UnixMilli()); err != nil {
		return s.fail("revoke jti", err)
	}
	return nil
}

// IsRevoked reports whether jti is revoked, or the grant (when not "") is
// revoked or gone, in one query.
func (s *Store) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	const q = `SELECT
		(?1 <> '' AND EXISTS (SELECT 1 FROM revoked_jtis WHERE jti = ?1))
		OR (?2 <> '' AND NOT EXISTS (SELECT 1 FROM grants WHERE id = ?2 AND revoked_at IS NULL))`
	var revoked bool
	if err := s.r.QueryRowContext(ctx, q, jti, grantID).Scan(&revoked); err != nil {
		return false, s.fail("is revoked", err)
	}
	return revoked, nil
}
