package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// CreateAuthCode stores a fresh authorization code; a digest that exists
// already, or a code challenge the client used before, gives
// store.ErrConflict.
func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	const q = `INSERT INTO auth_codes (digest, client_id, user_id, redirect_uri, redirect_uri_given,
		code_challenge, scopes, resources, dpop_jkt, nonce, auth_time, session_id, created_at, expires_at,
		consumed_at, grant_id, amr, acr)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`
	return s.exec(ctx, "create auth code", q, c.Digest, c.ClientID, optText(c.UserID), c.RedirectURI,
		c.RedirectURIGiven, c.CodeChallenge, list(c.Scopes), list(c.Resources), c.DPoPJKT, c.Nonce, ts(c.AuthTime), c.SessionID,
		ts(c.CreatedAt), ts(c.ExpiresAt), ts(c.ConsumedAt), optText(c.GrantID), words(c.AMR), c.ACR)
}

// GetAuthCode returns the code with digest in any state, or
// store.ErrNotFound.
func (s *Store) GetAuthCode(ctx context.Context, digest string) (store.AuthCode, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `SELECT digest, client_id, user_id, redirect_uri, redirect_uri_given, code_challenge,
		scopes, resources, dpop_jkt, nonce, auth_time, session_id, created_at, expires_at, consumed_at, grant_id,
		amr, acr
		FROM auth_codes WHERE digest = $1`
	var c store.AuthCode
	err := s.pool.QueryRow(ctx, q, digest).Scan(&c.Digest, &c.ClientID, textCol{&c.UserID},
		&c.RedirectURI, &c.RedirectURIGiven, &c.CodeChallenge, listCol{&c.Scopes}, listCol{&c.Resources},
		&c.DPoPJKT, &c.Nonce,
		tsCol{&c.AuthTime}, &c.SessionID, tsCol{&c.CreatedAt}, tsCol{&c.ExpiresAt},
		tsCol{&c.ConsumedAt}, textCol{&c.GrantID}, wordsCol{&c.AMR}, &c.ACR)
	if err != nil {
		return store.AuthCode{}, s.fail("get auth code", err)
	}
	return c, nil
}

// RedeemAuthCode marks the code consumed by iss.Grant and stores iss in one
// transaction. The conditional UPDATE is the single-use gate: it matches
// only an unconsumed, unexpired code, and its row lock makes concurrent
// callers wait for the first; once that one commits, PostgreSQL re-checks
// the condition on the updated row and the others match nothing. When
// nothing matches, a fresh read of the code tells ErrConflict (consumed,
// even if expired since) from ErrNotFound (unknown or expired).
func (s *Store) RedeemAuthCode(ctx context.Context, digest string, now time.Time, iss store.Issue) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var grantID string
	if iss.Grant != nil {
		grantID = iss.Grant.ID
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		const q = `UPDATE auth_codes SET consumed_at = $1, grant_id = $2
			WHERE digest = $3 AND consumed_at IS NULL AND expires_at > $1`
		tag, err := tx.Exec(ctx, q, now, optText(grantID), digest)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return saveIssue(ctx, tx, iss)
		}
		var consumed bool
		err = tx.QueryRow(ctx, "SELECT consumed_at IS NOT NULL FROM auth_codes WHERE digest = $1", digest).Scan(&consumed)
		if err != nil {
			return err // pgx.ErrNoRows: unknown code
		}
		if consumed {
			return fmt.Errorf("code already redeemed: %w", store.ErrConflict)
		}
		return fmt.Errorf("code expired: %w", store.ErrNotFound)
	})
	if err != nil {
		return s.fail("redeem auth code", err)
	}
	return nil
}

// SaveIssue stores a grant with its first tokens. The inserts go out as one
// batch, which PostgreSQL runs as one implicit transaction: all or nothing,
// in a single round trip.
//
// A grant with a parent (token exchange) is stored in a transaction that
// first locks the parent's whole ancestry, root first as RevokeGrant locks
// it, and checks that every ancestor stands: a concurrent revocation of
// any of them then either waits for the child and revokes it too, or
// makes this fail with store.ErrNotFound.
func (s *Store) SaveIssue(ctx context.Context, iss store.Issue) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if iss.Grant != nil && iss.Grant.ParentID != "" {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			if err := lockAncestry(ctx, tx, iss.Grant.ParentID, iss.Grant.CreatedAt); err != nil {
				return err
			}
			return saveIssue(ctx, tx, iss)
		})
		if err != nil {
			return s.fail("save issue", err)
		}
		return nil
	}
	if err := saveIssue(ctx, s.pool, iss); err != nil {
		return s.fail("save issue", err)
	}
	return nil
}

// saveIssue inserts the parts of iss that are set, grant first, in one
// batch.
func saveIssue(ctx context.Context, q batcher, iss store.Issue) error {
	b := &pgx.Batch{}
	if g := iss.Grant; g != nil {
		const insert = `INSERT INTO grants (id, client_id, user_id, parent_id, subject, act, scopes, resources,
			auth_time, nonce, created_at, expires_at, revoked_at, session_id, amr, acr)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`
		b.Queue(insert, g.ID, g.ClientID, optText(g.UserID), optText(g.ParentID), g.Subject, g.Act,
			list(g.Scopes), list(g.Resources), ts(g.AuthTime), g.Nonce, ts(g.CreatedAt), ts(g.ExpiresAt), ts(g.RevokedAt), g.SessionID,
			words(g.AMR), g.ACR)
	}
	if iss.Refresh != nil {
		queueRefresh(b, *iss.Refresh)
	}
	if iss.Access != nil {
		queueAccess(b, *iss.Access)
	}
	if b.Len() == 0 {
		return nil
	}
	return q.SendBatch(ctx, b).Close()
}

// lockAncestry locks the grant id and all its ancestors, root first, and
// returns store.ErrNotFound unless every one stands (not revoked, not
// expired at now).
func lockAncestry(ctx context.Context, tx pgx.Tx, id string, now time.Time) error {
	const chain = `WITH RECURSIVE up (id, parent_id, depth) AS (
			SELECT id, parent_id, 0 FROM grants WHERE id = $1
			UNION ALL SELECT g.id, g.parent_id, up.depth + 1 FROM grants g JOIN up ON g.id = up.parent_id)
		SELECT id FROM up ORDER BY depth DESC`
	rows, err := tx.Query(ctx, chain, id)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("parent grant gone: %w", store.ErrNotFound)
	}
	// The sort runs before the lock, so rows are locked in array order.
	const lock = `SELECT g.id FROM unnest($1::text[]) WITH ORDINALITY AS c (id, n)
		JOIN grants g ON g.id = c.id
		WHERE g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > $2)
		ORDER BY c.n FOR NO KEY UPDATE OF g`
	rows, err = tx.Query(ctx, lock, ids, now)
	if err != nil {
		return err
	}
	standing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(standing) != len(ids) {
		return fmt.Errorf("parent grant revoked or expired: %w", store.ErrNotFound)
	}
	return nil
}

// GetGrant returns the grant with id, revoked or not, or store.ErrNotFound.
func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	g, err := scanGrant(s.pool.QueryRow(ctx, "SELECT "+grantColumns+" FROM grants WHERE id = $1", id))
	if err != nil {
		return store.Grant{}, s.fail("get grant", err)
	}
	return g, nil
}

const grantColumns = `id, client_id, user_id, parent_id, subject, act, scopes, resources, auth_time, nonce,
	created_at, expires_at, revoked_at, session_id, amr, acr`

// scanGrant reads one row of grantColumns.
func scanGrant(row pgx.Row) (store.Grant, error) {
	var g store.Grant
	err := row.Scan(&g.ID, &g.ClientID, textCol{&g.UserID}, textCol{&g.ParentID},
		&g.Subject, &g.Act, listCol{&g.Scopes}, listCol{&g.Resources}, tsCol{&g.AuthTime}, &g.Nonce,
		tsCol{&g.CreatedAt}, tsCol{&g.ExpiresAt}, tsCol{&g.RevokedAt}, &g.SessionID, wordsCol{&g.AMR}, &g.ACR)
	return g, err
}

// ListUserGrants returns the user's live grants, for clientID only when
// it is not "", oldest first (index grants_user_client).
func (s *Store) ListUserGrants(ctx context.Context, userID, clientID string, now time.Time) ([]store.Grant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = "SELECT " + grantColumns + ` FROM grants
		WHERE user_id = $1 AND ($2 = '' OR client_id = $2) AND revoked_at IS NULL
			AND (expires_at IS NULL OR expires_at > $3)
		ORDER BY created_at, id`
	rows, err := s.pool.Query(ctx, q, userID, clientID, now)
	if err != nil {
		return nil, s.fail("list user grants", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Grant, error) { return scanGrant(row) })
	if err != nil {
		return nil, s.fail("list user grants", err)
	}
	return out, nil
}

// RevokeGrant marks the grant revoked at now with every refresh token and
// opaque access token under it, in one implicit transaction. Earlier
// revocation times are kept, and unknown ids are not an error.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := revokeGrant(ctx, s.pool, id, now); err != nil {
		return s.fail("revoke grant", err)
	}
	s.announce(ctx)
	return nil
}

// grantTree selects the ids of a grant ($2) and of all its descendants.
const grantTree = `WITH RECURSIVE tree (id) AS (
		SELECT $2::text COLLATE "C" UNION SELECT g.id FROM grants g JOIN tree t ON g.parent_id = t.id)`

// revokeGrant is RevokeGrant as one batch. The grant row is locked first,
// as RotateRefreshToken locks it first: the grant is the family's lock.
func revokeGrant(ctx context.Context, q batcher, id string, now time.Time) error {
	b := &pgx.Batch{}
	// The first statement locks the grant itself; each later one reads a
	// fresh snapshot, so it sees any child whose insert held that lock.
	for _, update := range []string{
		"UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
		grantTree + " UPDATE grants SET revoked_at = $1 WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL",
		grantTree + " UPDATE refresh_tokens SET revoked_at = $1 WHERE grant_id IN (SELECT id FROM tree) AND revoked_at IS NULL",
		grantTree + " UPDATE access_tokens SET revoked_at = $1 WHERE grant_id IN (SELECT id FROM tree) AND revoked_at IS NULL",
	} {
		b.Queue(update, now, id)
	}
	return q.SendBatch(ctx, b).Close()
}
