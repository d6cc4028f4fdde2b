package sqlite

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// CreateSession stores s; a digest that exists already gives
// store.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	const q = `INSERT INTO sessions (digest, user_id, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`
	_, err := s.w.ExecContext(ctx, q, sess.Digest, sess.UserID, msOf(sess.AuthTime), msOf(sess.CreatedAt), msOf(sess.ExpiresAt))
	if err != nil {
		return s.fail("create session", err)
	}
	return nil
}

// GetSession returns the session with digest unless it expired at now, or
// store.ErrNotFound.
func (s *Store) GetSession(ctx context.Context, digest string, now time.Time) (store.Session, error) {
	const q = `SELECT digest, user_id, auth_time, created_at, expires_at
		FROM sessions WHERE digest = ? AND expires_at > ?`
	var sess store.Session
	err := s.r.QueryRowContext(ctx, q, digest, now.UnixMilli()).Scan(&sess.Digest, &sess.UserID,
		timeCol{&sess.AuthTime}, timeCol{&sess.CreatedAt}, timeCol{&sess.ExpiresAt})
	if err != nil {
		return store.Session{}, s.fail("get session", err)
	}
	return sess, nil
}

// DeleteSession removes the session; unknown digests are not an error.
func (s *Store) DeleteSession(ctx context.Context, digest string) error {
	if _, err := s.w.ExecContext(ctx, "DELETE FROM sessions WHERE digest = ?", digest); err != nil {
		return s.fail("delete session", err)
	}
	return nil
}

// SaveConsent remembers c, replacing the user's earlier consent to the same
// client.
func (s *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	const q = `INSERT INTO consents (user_id, client_id, scopes, resources, granted_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, resources = excluded.resources, granted_at = excluded.granted_at`
	if _, err := s.w.ExecContext(ctx, q, c.UserID, c.ClientID, listOf(c.Scopes), listOf(c.Resources), msOf(c.GrantedAt)); err != nil {
		return s.fail("save consent", err)
	}
	return nil
}

// GetConsent returns the user's consent to the client, or
// store.ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (store.Consent, error) {
	const q = `SELECT user_id, client_id, scopes, resources, granted_at FROM consents WHERE user_id = ? AND client_id = ?`
	var c store.Consent
	err := s.r.QueryRowContext(ctx, q, userID, clientID).Scan(&c.UserID, &c.ClientID, listCol{&c.Scopes}, listCol{&c.Resources}, timeCol{&c.GrantedAt})
	if err != nil {
		return store.Consent{}, s.fail("get consent", err)
	}
	return c, nil
}
