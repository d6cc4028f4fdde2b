package sqlite

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// CreateSession stores s; a digest that exists already gives
// store.ErrConflict.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	const q = `INSERT INTO sessions (digest, user_id, sid, user_agent, ip, auth_time, created_at, last_seen, expires_at, amr, acr)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := s.w.ExecContext(ctx, q, sess.Digest, sess.UserID, sess.SID, sess.UserAgent, sess.IP,
		msOf(sess.AuthTime), msOf(sess.CreatedAt), msOf(sess.LastSeenAt), msOf(sess.ExpiresAt), wordsOf(sess.AMR), sess.ACR)
	if err != nil {
		return s.fail("create session", err)
	}
	return nil
}

// GetSession returns the session with digest unless it expired at now, or
// store.ErrNotFound.
func (s *Store) GetSession(ctx context.Context, digest string, now time.Time) (store.Session, error) {
	const q = "SELECT " + sessionColumns + " FROM sessions WHERE digest = ? AND expires_at > ?"
	sess, err := scanSession(s.r.QueryRowContext(ctx, q, digest, now.UnixMilli()))
	if err != nil {
		return store.Session{}, s.fail("get session", err)
	}
	return sess, nil
}

const sessionColumns = `digest, user_id, sid, user_agent, ip, auth_time, created_at, last_seen, expires_at, amr, acr`

// scanSession reads one row of sessionColumns.
func scanSession(row scanner) (store.Session, error) {
	var sess store.Session
	err := row.Scan(&sess.Digest, &sess.UserID, &sess.SID, &sess.UserAgent, &sess.IP,
		timeCol{&sess.AuthTime}, timeCol{&sess.CreatedAt}, timeCol{&sess.LastSeenAt}, timeCol{&sess.ExpiresAt}, wordsCol{&sess.AMR}, &sess.ACR)
	return sess, err
}

// ListSessions returns the user's sessions that have not expired at now,
// newest first.
func (s *Store) ListSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	const q = "SELECT " + sessionColumns + ` FROM sessions WHERE user_id = ? AND expires_at > ?
		ORDER BY created_at DESC, digest`
	rows, err := s.r.QueryContext(ctx, q, userID, now.UnixMilli())
	if err != nil {
		return nil, s.fail("list sessions", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, s.fail("list sessions", err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list sessions", err)
	}
	return out, nil
}

// TouchSession records that the session was seen at at from ip.
func (s *Store) TouchSession(ctx context.Context, digest string, at time.Time, ip string) error {
	const q = "UPDATE sessions SET last_seen = ?, ip = ? WHERE digest = ?"
	if _, err := s.w.ExecContext(ctx, q, msOf(at), ip, digest); err != nil {
		return s.fail("touch session", err)
	}
	return nil
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

// ListConsents returns the user's consents ordered by client id.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]store.Consent, error) {
	const q = `SELECT user_id, client_id, scopes, resources, granted_at FROM consents WHERE user_id = ? ORDER BY client_id`
	rows, err := s.r.QueryContext(ctx, q, userID)
	if err != nil {
		return nil, s.fail("list consents", err)
	}
	defer rows.Close()
	var out []store.Consent
	for rows.Next() {
		var c store.Consent
		if err := rows.Scan(&c.UserID, &c.ClientID, listCol{&c.Scopes}, listCol{&c.Resources}, timeCol{&c.GrantedAt}); err != nil {
			return nil, s.fail("list consents", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list consents", err)
	}
	return out, nil
}

// DeleteConsent forgets the user's consent to the client.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	if _, err := s.w.ExecContext(ctx, "DELETE FROM consents WHERE user_id = ? AND client_id = ?", userID, clientID); err != nil {
		return s.fail("delete consent", err)
	}
	return nil
}
