package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// CreateSession stores s; a digest that exists already gives
// store.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	const q = `INSERT INTO sessions (digest, user_id, sid, user_agent, ip, auth_time, created_at, last_seen, expires_at, amr, acr)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	return s.exec(ctx, "create session", q, sess.Digest, sess.UserID, sess.SID, sess.UserAgent, sess.IP,
		ts(sess.AuthTime), ts(sess.CreatedAt), ts(sess.LastSeenAt), ts(sess.ExpiresAt), words(sess.AMR), sess.ACR)
}

// GetSession returns the session with digest unless it expired at now, or
// store.ErrNotFound.
func (s *Store) GetSession(ctx context.Context, digest string, now time.Time) (store.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = "SELECT " + sessionColumns + " FROM sessions WHERE digest = $1 AND expires_at > $2"
	sess, err := scanSession(s.pool.QueryRow(ctx, q, digest, now))
	if err != nil {
		return store.Session{}, s.fail("get session", err)
	}
	return sess, nil
}

const sessionColumns = `digest, user_id, sid, user_agent, ip, auth_time, created_at, last_seen, expires_at, amr, acr`

// scanSession reads one row of sessionColumns.
func scanSession(row pgx.Row) (store.Session, error) {
	var sess store.Session
	err := row.Scan(&sess.Digest, &sess.UserID, &sess.SID, &sess.UserAgent, &sess.IP,
		tsCol{&sess.AuthTime}, tsCol{&sess.CreatedAt}, tsCol{&sess.LastSeenAt}, tsCol{&sess.ExpiresAt}, wordsCol{&sess.AMR}, &sess.ACR)
	return sess, err
}

// ListSessions returns the user's sessions that have not expired at now,
// newest first.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = "SELECT " + sessionColumns + ` FROM sessions WHERE user_id = $1 AND expires_at > $2
		ORDER BY created_at DESC, digest`
	rows, err := s.pool.Query(ctx, q, userID, now)
	if err != nil {
		return nil, s.fail("list sessions", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Session, error) { return scanSession(row) })
	if err != nil {
		return nil, s.fail("list sessions", err)
	}
	return out, nil
}

// TouchSession records that the session was seen at at from ip.
func (s *Store) TouchSession(ctx context.Context, digest string, at time.Time, ip string) error {
	return s.exec(ctx, "touch session", "UPDATE sessions SET last_seen = $1, ip = $2 WHERE digest = $3", ts(at), ip, digest)
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

// ListConsents returns the user's consents ordered by client id.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]store.Consent, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `SELECT user_id, client_id, scopes, resources, granted_at FROM consents WHERE user_id = $1 ORDER BY client_id`
	rows, err := s.pool.Query(ctx, q, userID)
	if err != nil {
		return nil, s.fail("list consents", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Consent, error) {
		var c store.Consent
		err := row.Scan(&c.UserID, &c.ClientID, listCol{&c.Scopes}, listCol{&c.Resources}, tsCol{&c.GrantedAt})
		return c, err
	})
	if err != nil {
		return nil, s.fail("list consents", err)
	}
	return out, nil
}

// DeleteConsent forgets the user's consent to the client.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return s.exec(ctx, "delete consent", "DELETE FROM consents WHERE user_id = $1 AND client_id = $2", userID, clientID)
}
