package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// insertRefresh stores a refresh token.
func insertRefresh(ctx context.Context, tx execer, r store.RefreshToken) error {
	const q = `INSERT INTO refresh_tokens (digest, grant_id, client_id, user_id, scopes, resources, jkt,
		created_at, expires_at, rotated_at, next_digest, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := tx.ExecContext(ctx, q, r.Digest, r.GrantID, r.ClientID, nullOf(r.UserID), listOf(r.Scopes),
		listOf(r.Resources), r.JKT, msOf(r.CreatedAt), msOf(r.ExpiresAt), msOf(r.RotatedAt), nullOf(r.Next), msOf(r.RevokedAt))
	if err != nil {
		return fmt.Errorf("refresh token: %w", err)
	}
	return nil
}

// queryer is a *pool or a txn.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// refreshRow is a refresh token with the state of its grant.
type refreshRow struct {
	store.RefreshToken
	GrantExpiresAt time.Time
}

// getRefresh reads the refresh token with digest and its grant's state.
func getRefresh(ctx context.Context, db queryer, digest string) (refreshRow, error) {
	const q = `SELECT r.digest, r.grant_id, r.client_id, r.user_id, r.scopes, r.resources, r.jkt,
		r.created_at, r.expires_at, r.rotated_at, r.next_digest, r.revoked_at, g.revoked_at, g.expires_at,
		g.subject, g.act
		FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.digest = ?`
	var t refreshRow
	err := db.QueryRowContext(ctx, q, digest).Scan(&t.Digest, &t.GrantID, &t.ClientID, textCol{&t.UserID},
		listCol{&t.Scopes}, listCol{&t.Resources}, &t.JKT, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.RotatedAt},
		textCol{&t.Next}, timeCol{&t.RevokedAt}, timeCol{&t.GrantRevokedAt}, timeCol{&t.GrantExpiresAt},
		&t.GrantSubject, &t.GrantAct)
	return t, err
}

// GetRefreshToken returns the refresh token with digest in any state, with
// its grant's revocation time, or store.ErrNotFound.
func (s *Store) GetRefreshToken(ctx context.Context, digest string) (store.RefreshToken, error) {
	t, err := getRefresh(ctx, s.r, digest)
	if err != nil {
		return store.RefreshToken{}, s.fail("get refresh token", err)
	}
	return t.RefreshToken, nil
}

// RotateRefreshToken applies the rules of store.Rotation in one IMMEDIATE
// transaction: the read of the old token and every write that follows see
// no other writer in between. On reuse, the revocation of the family is
// committed before store.ErrReused is returned. The successor joins the old
// token's family: its GrantID, ClientID and UserID are the old token's,
// whatever r.Next says.
func (s *Store) RotateRefreshToken(ctx context.Context, r store.Rotation) (store.RefreshToken, error) {
	var next store.RefreshToken
	var reused bool
	err := s.inTx(ctx, func(tx txn) error {
		var err error
		next, reused, err = rotate(ctx, tx, r)
		return err
	})
	if err != nil {
		return store.RefreshToken{}, s.fail("rotate refresh token", err)
	}
	if reused {
		return store.RefreshToken{}, s.fail("rotate refresh token", store.ErrReused)
	}
	return next, nil
}

// rotate decides, in order: unknown, another client's or expired → not
// found; rotated already → the grace successor, or reuse (the family is
// revoked, even when it was revoked before); revoked, or its grant revoked
// or past its absolute lifetime → not found; otherwise rotate.
func rotate(ctx context.Context, tx txn, r store.Rotation) (store.RefreshToken, bool, error) {
	if next, ok, err := rotateActive(ctx, tx, r); ok || err != nil {
		return next, false, err
	}
	old, err := getRefresh(ctx, tx, r.OldDigest)
	if err != nil {
		return store.RefreshToken{}, false, err
	}
	now := r.Now.UnixMilli()
	switch {
	case old.ClientID != r.ClientID:
		return store.RefreshToken{}, false, fmt.Errorf("refresh token of another client: %w", store.ErrNotFound)
	case old.ExpiresAt.UnixMilli() <= now:
		return store.RefreshToken{}, false, fmt.Errorf("refresh token expired: %w", store.ErrNotFound)
	case !old.RotatedAt.IsZero():
		return rotatedAgain(ctx, tx, r, old)
	case !old.RevokedAt.IsZero() || !old.GrantRevokedAt.IsZero():
		return store.RefreshToken{}, false, fmt.Errorf("refresh token revoked: %w", store.ErrNotFound)
	case !old.GrantExpiresAt.IsZero() && old.GrantExpiresAt.UnixMilli() <= now:
		return store.RefreshToken{}, false, fmt.Errorf("grant expired: %w", store.ErrNotFound)
	}

	next := r.Next
	next.GrantID, next.ClientID, next.UserID = old.GrantID, old.ClientID, old.UserID
	next.RotatedAt, next.Next, next.RevokedAt, next.GrantRevokedAt = time.Time{}, "", time.Time{}, time.Time{}
	const q = "UPDATE refresh_tokens SET rotated_at = ?, next_digest = ? WHERE digest = ? AND rotated_at IS NULL"
	if _, err := tx.ExecContext(ctx, q, now, next.Digest, old.Digest); err != nil {
		return store.RefreshToken{}, false, err
	}
	if err := insertRefresh(ctx, tx, next); err != nil {
		return store.RefreshToken{}, false, err
	}
	if err := insertAccessIfSet(ctx, tx, r.Access); err != nil {
		return store.RefreshToken{}, false, err
	}
	return next, false, nil
}

// rotateActive is the common case of rotate in one statement, without
// reading the token first: an active token of the client (not rotated,
// not revoked, unexpired, its grant neither revoked nor past its
// lifetime) is marked rotated and its successor stored. ok is false, and
// nothing written, for any other token: rotate's reads then tell which
// case it is. The writer transaction holds the database throughout, so
// the answer is the one those reads would have given.
func rotateActive(ctx context.Context, tx txn, r store.Rotation) (store.RefreshToken, bool, error) {
	const q = `UPDATE refresh_tokens SET rotated_at = ?1, next_digest = ?2
		WHERE digest = ?3 AND client_id = ?4 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?1
			AND EXISTS (SELECT 1 FROM grants g WHERE g.id = refresh_tokens.grant_id AND g.revoked_at IS NULL
				AND (g.expires_at IS NULL OR g.expires_at > ?1))
		RETURNING grant_id, user_id`
	next := r.Next
	err := tx.QueryRowContext(ctx, q, r.Now.UnixMilli(), next.Digest, r.OldDigest, r.ClientID).
		Scan(&next.GrantID, textCol{&next.UserID})
	if errors.Is(err, sql.ErrNoRows) {
		return store.RefreshToken{}, false, nil
	}
	if err != nil {
		return store.RefreshToken{}, false, err
	}
	next.ClientID = r.ClientID
	next.RotatedAt, next.Next, next.RevokedAt, next.GrantRevokedAt = time.Time{}, "", time.Time{}, time.Time{}
	if err := insertRefresh(ctx, tx, next); err != nil {
		return store.RefreshToken{}, false, err
	}
	if err := insertAccessIfSet(ctx, tx, r.Access); err != nil {
		return store.RefreshToken{}, false, err
	}
	return next, true, nil
}

// rotatedAgain handles a token that was rotated already: within the grace
// window and with the same, still active successor, that successor is
// returned (and r.Access stored); otherwise the whole grant is revoked and
// reused is reported.
func rotatedAgain(ctx context.Context, tx txn, r store.Rotation, old refreshRow) (store.RefreshToken, bool, error) {
	inGrace := r.Grace > 0 && old.Next == r.Next.Digest &&
		r.Now.UnixMilli()-old.RotatedAt.UnixMilli() <= r.Grace.Milliseconds()
	if inGrace {
		succ, err := getRefresh(ctx, tx, old.Next)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return store.RefreshToken{}, false, err
		}
		active := err == nil && succ.RotatedAt.IsZero() && succ.RevokedAt.IsZero() &&
			succ.GrantRevokedAt.IsZero() && succ.ExpiresAt.UnixMilli() > r.Now.UnixMilli()
		if active {
			if err := insertAccessIfSet(ctx, tx, r.Access); err != nil {
				return store.RefreshToken{}, false, err
			}
			return succ.RefreshToken, false, nil
		}
	}
	if err := revokeGrant(ctx, tx, old.GrantID, r.Now); err != nil {
		return store.RefreshToken{}, false, err
	}
	return store.RefreshToken{}, true, nil
}

// insertAccessIfSet stores a when it is not nil.
func insertAccessIfSet(ctx context.Context, tx execer, a *store.AccessToken) error {
	if a == nil {
		return nil
	}
	return insertAccess(ctx, tx, *a)
}
