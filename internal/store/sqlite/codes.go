package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// execer is a *pool or a txn.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// CreateAuthCode stores a fresh authorization code; a digest that exists
// already gives store.ErrConflict.
func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	const q = `INSERT INTO auth_codes (digest, client_id, user_id, redirect_uri, redirect_uri_given,
		code_challenge, scopes, resources, dpop_jkt, nonce, auth_time, session_id, created_at, expires_at,
		consumed_at, grant_id, amr, acr)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := s.w.ExecContext(ctx, q, c.Digest, c.ClientID, nullOf(c.UserID), c.RedirectURI, c.RedirectURIGiven,
		c.CodeChallenge, listOf(c.Scopes), listOf(c.Resources), c.DPoPJKT, c.Nonce, msOf(c.AuthTime), c.SessionID,
		msOf(c.CreatedAt), msOf(c.ExpiresAt), msOf(c.ConsumedAt), nullOf(c.GrantID), wordsOf(c.AMR), c.ACR)
	if err != nil {
		return s.fail("create auth code", err)
	}
	return nil
}

// GetAuthCode returns the code with digest in any state, or
// store.ErrNotFound.
func (s *Store) GetAuthCode(ctx context.Context, digest string) (store.AuthCode, error) {
	const q = `SELECT digest, client_id, user_id, redirect_uri, redirect_uri_given, code_challenge,
		scopes, resources, dpop_jkt, nonce, auth_time, session_id, created_at, expires_at, consumed_at, grant_id,
		amr, acr
		FROM auth_codes WHERE digest = ?`
	var c store.AuthCode
	err := s.r.QueryRowContext(ctx, q, digest).Scan(&c.Digest, &c.ClientID, textCol{&c.UserID},
		&c.RedirectURI, &c.RedirectURIGiven, &c.CodeChallenge, listCol{&c.Scopes}, listCol{&c.Resources},
		&c.DPoPJKT, &c.Nonce,
		timeCol{&c.AuthTime}, &c.SessionID, timeCol{&c.CreatedAt}, timeCol{&c.ExpiresAt},
		timeCol{&c.ConsumedAt}, textCol{&c.GrantID}, wordsCol{&c.AMR}, &c.ACR)
	if err != nil {
		return store.AuthCode{}, s.fail("get auth code", err)
	}
	return c, nil
}

// RedeemAuthCode marks the code consumed by iss.Grant and stores iss in one
// IMMEDIATE transaction. The conditional UPDATE is the single-use gate: only
// an unconsumed, unexpired code matches it. When it matches nothing, the
// code's state tells ErrConflict (consumed, even if expired since) from
// ErrNotFound (unknown or expired).
func (s *Store) RedeemAuthCode(ctx context.Context, digest string, now time.Time, iss store.Issue) error {
	var grantID string
	if iss.Grant != nil {
		grantID = iss.Grant.ID
	}
	err := s.inTx(ctx, func(tx txn) error {
		const q = `UPDATE auth_codes SET consumed_at = ?, grant_id = ?
			WHERE digest = ? AND consumed_at IS NULL AND expires_at > ?`
		res, err := tx.ExecContext(ctx, q, now.UnixMilli(), nullOf(grantID), digest, now.UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			return saveIssue(ctx, tx, iss)
		}
		var consumed sql.NullInt64
		err = tx.QueryRowContext(ctx, "SELECT consumed_at FROM auth_codes WHERE digest = ?", digest).Scan(&consumed)
		if err != nil {
			return err // sql.ErrNoRows: unknown code
		}
		if consumed.Valid {
			return fmt.Errorf("code already redeemed: %w", store.ErrConflict)
		}
		return fmt.Errorf("code expired: %w", store.ErrNotFound)
	})
	if err != nil {
		return s.fail("redeem auth code", err)
	}
	return nil
}

// SaveIssue stores a grant with its first tokens in one transaction.
func (s *Store) SaveIssue(ctx context.Context, iss store.Issue) error {
	err := s.inTx(ctx, func(tx txn) error { return saveIssue(ctx, tx, iss) })
	if err != nil {
		return s.fail("save issue", err)
	}
	return nil
}

// saveIssue inserts the parts of iss that are set, grant first.
func saveIssue(ctx context.Context, tx execer, iss store.Issue) error {
	if g := iss.Grant; g != nil {
		if err := insertGrant(ctx, tx, *g); err != nil {
			return err
		}
	}
	if iss.Refresh != nil {
		if err := insertRefresh(ctx, tx, *iss.Refresh); err != nil {
			return err
		}
	}
	if iss.Access != nil {
		if err := insertAccess(ctx, tx, *iss.Access); err != nil {
			return err
		}
	}
	return nil
}

// insertGrant stores g. A grant with a parent is stored only while the
// parent stands: the writer transaction holds the database, so no
// revocation of the parent can come between the check and the insert.
func insertGrant(ctx context.Context, tx execer, g store.Grant) error {
	const q = `INSERT INTO grants (id, client_id, user_id, parent_id, subject, act, scopes, resources,
		auth_time, nonce, created_at, expires_at, revoked_at, session_id, amr, acr)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16
		WHERE ?4 IS NULL OR EXISTS (SELECT 1 FROM grants p WHERE p.id = ?4 AND p.revoked_at IS NULL
			AND (p.expires_at IS NULL OR p.expires_at > ?11))`
	res, err := tx.ExecContext(ctx, q, g.ID, g.ClientID, nullOf(g.UserID), nullOf(g.ParentID), g.Subject, g.Act,
		listOf(g.Scopes), listOf(g.Resources), msOf(g.AuthTime), g.Nonce, msOf(g.CreatedAt), msOf(g.ExpiresAt), msOf(g.RevokedAt), g.SessionID,
		wordsOf(g.AMR), g.ACR)
	if err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("grant: parent grant revoked or gone: %w", store.ErrNotFound)
	}
	return nil
}

// GetGrant returns the grant with id, revoked or not, or store.ErrNotFound.
func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	g, err := scanGrant(s.r.QueryRowContext(ctx, "SELECT "+grantColumns+" FROM grants WHERE id = ?", id))
	if err != nil {
		return store.Grant{}, s.fail("get grant", err)
	}
	return g, nil
}

const grantColumns = `id, client_id, user_id, parent_id, subject, act, scopes, resources, auth_time, nonce,
	created_at, expires_at, revoked_at, session_id, amr, acr`

// scanGrant reads one row of grantColumns.
func scanGrant(row scanner) (store.Grant, error) {
	var g store.Grant
	err := row.Scan(&g.ID, &g.ClientID, textCol{&g.UserID}, textCol{&g.ParentID},
		&g.Subject, &g.Act, listCol{&g.Scopes}, listCol{&g.Resources}, timeCol{&g.AuthTime}, &g.Nonce,
		timeCol{&g.CreatedAt}, timeCol{&g.ExpiresAt}, timeCol{&g.RevokedAt}, &g.SessionID, wordsCol{&g.AMR}, &g.ACR)
	return g, err
}

// ListUserGrants returns the user's live grants, for clientID only when
// it is not "", oldest first (index grants_user_client).
func (s *Store) ListUserGrants(ctx context.Context, userID, clientID string, now time.Time) ([]store.Grant, error) {
	const q = "SELECT " + grantColumns + ` FROM grants
		WHERE user_id = ?1 AND (?2 = '' OR client_id = ?2) AND revoked_at IS NULL
			AND (expires_at IS NULL OR expires_at > ?3)
		ORDER BY created_at, id`
	rows, err := s.r.QueryContext(ctx, q, userID, clientID, now.UnixMilli())
	if err != nil {
		return nil, s.fail("list user grants", err)
	}
	defer rows.Close()
	var out []store.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, s.fail("list user grants", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list user grants", err)
	}
	return out, nil
}

// RevokeGrant marks the grant revoked at now with every refresh token and
// opaque access token under it, and so every grant descended from it.
// Earlier revocation times are kept, and unknown ids are not an error.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	err := s.inTx(ctx, func(tx txn) error { return revokeGrant(ctx, tx, id, now) })
	if err != nil {
		return s.fail("revoke grant", err)
	}
	return nil
}

// grantTree selects the ids of a grant (?2) and of all its descendants.
const grantTree = `WITH RECURSIVE tree (id) AS (
		SELECT ?2 UNION SELECT g.id FROM grants g JOIN tree t ON g.parent_id = t.id)`

// revokeGrant is RevokeGrant inside a transaction.
func revokeGrant(ctx context.Context, tx execer, id string, now time.Time) error {
	for _, q := range []string{
		grantTree + " UPDATE grants SET revoked_at = ?1 WHERE id IN tree AND revoked_at IS NULL",
		grantTree + " UPDATE refresh_tokens SET revoked_at = ?1 WHERE grant_id IN tree AND revoked_at IS NULL",
		grantTree + " UPDATE access_tokens SET revoked_at = ?1 WHERE grant_id IN tree AND revoked_at IS NULL",
	} {
		if _, err := tx.ExecContext(ctx, q, now.UnixMilli(), id); err != nil {
			return err
		}
	}
	return nil
}
