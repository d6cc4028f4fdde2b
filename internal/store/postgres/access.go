package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// insertAccess stores an opaque access token; accessArgs are its values.
const insertAccess = `INSERT INTO access_tokens (digest, jti, grant_id, client_id, subject, user_id,
	scopes, audience, jkt, act, created_at, expires_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

// accessArgs are the values of insertAccess for a.
func accessArgs(a store.AccessToken) []any {
	return []any{a.Digest, a.JTI, optText(a.GrantID), a.ClientID, a.Subject, optText(a.UserID),
		list(a.Scopes), list(a.Audience), a.JKT, a.Act, ts(a.CreatedAt), ts(a.ExpiresAt)}
}

// queueAccess adds the insert of an opaque access token to b.
func queueAccess(b *pgx.Batch, a store.AccessToken) {
	b.Queue(insertAccess, accessArgs(a)...)
}

// GetAccessToken returns the opaque access token with digest, expired or
// not, or store.ErrNotFound when it is unknown or revoked (itself or through
// its grant).
func (s *Store) GetAccessToken(ctx context.Context, digest string) (store.AccessToken, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `SELECT a.digest, a.jti, a.grant_id, a.client_id, a.subject, a.user_id, a.scopes, a.audience,
		a.jkt, a.act, a.created_at, a.expires_at
		FROM access_tokens a LEFT JOIN grants g ON g.id = a.grant_id
		WHERE a.digest = $1 AND a.revoked_at IS NULL AND g.revoked_at IS NULL`
	var a store.AccessToken
	err := s.pool.QueryRow(ctx, q, digest).Scan(&a.Digest, &a.JTI, textCol{&a.GrantID}, &a.ClientID,
		&a.Subject, textCol{&a.UserID}, listCol{&a.Scopes}, listCol{&a.Audience}, &a.JKT, &a.Act,
		tsCol{&a.CreatedAt}, tsCol{&a.ExpiresAt})
	if err != nil {
		return store.AccessToken{}, s.fail("get access token", err)
	}
	return a, nil
}

// RevokeJTI records that the JWT access token jti is revoked until exp.
// Revoking again keeps the later of the two expiries.
func (s *Store) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	const q = `INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revoked_jtis.expires_at, excluded.expires_at)`
	if err := s.exec(ctx, "revoke jti", q, jti, exp); err != nil {
		return err
	}
	s.announce(ctx)
	return nil
}

// IsRevoked reports whether jti is revoked, or the grant (when not "") is
// revoked or gone, in one query.
func (s *Store) IsRevoked(ctx context.Context, jti, grantID string) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `SELECT
		($1 <> '' AND EXISTS (SELECT 1 FROM revoked_jtis WHERE jti = $1))
		OR ($2 <> '' AND NOT EXISTS (SELECT 1 FROM grants WHERE id = $2 AND revoked_at IS NULL))`
	var revoked bool
	if err := s.pool.QueryRow(ctx, q, jti, grantID).Scan(&revoked); err != nil {
		return false, s.fail("is revoked", err)
	}
	return revoked, nil
}
