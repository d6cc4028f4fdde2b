package postgres

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// CreateSession stores s; a digest that exists already gives
// store.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	const q = `INSERT INTO sessions (digest, user_id, auth_time, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`
	return s.exec(ctx, "create session", q, sess.Digest, sess.UserID, ts(sess.AuthTime), ts(sess.CreatedAt), ts(sess.ExpiresAt))
}

// GetSession returns the session with digest unless it expired at now, or
// store.ErrNotFound.
func (s *Store) GetSession(ctx context.Context, digest string, now time.Time) (store.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `SELECT digest, user_id, auth_time, created_at, expires_at
		FROM sessions WHERE digest = $1 AND expires_at > $2`
	var sess store.Session
	err := s.pool.QueryRow(ctx, q, digest, now).Scan(&sess.Digest, &sess.UserID,
		tsCol{&sess.AuthTime}, tsCol{&sess.CreatedAt}, tsCol{&sess.ExpiresAt})
	if err != nil {
		return store.Session{}, s.fail("get session", err)
	}
	return sess, nil
}

// DeleteSession removes the session; unknown digests are not an error.
func (s *Store) DeleteSession(ctx context.Context, digest string) error {
	return s.exec(ctx, "delete session", "DELETE FROM sessions WHERE digest = $1", digest)
}

// SaveConsent remembers c, replacing the user's earlier consent to the same
// client.
func (s *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	const q = `INSERT INTO consents (user_id, client_id, scopes, resources, granted_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, resources = excluded.resources, granted_at = excluded.granted_at`
	return s.exec(ctx, "save consent", q, c.UserID, c.ClientID, list(c.Scopes), list(c.Resources), ts(c.GrantedAt))
}

// GetConsent returns the user's consent to the client, or
// store.ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (store.Consent, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `SELECT user_id, client_id, scopes, resources, granted_at FROM consents WHERE user_id = $1 AND client_id = $2`
	var c store.Consent
	err := s.pool.QueryRow(ctx, q, userID, clientID).Scan(&c.UserID, &c.ClientID, listCol{&c.Scopes}, listCol{&c.Resources}, tsCol{&c.GrantedAt})
	if err != nil {
		return store.Consent{}, s.fail("get consent", err)
	}
	return c, nil
}
