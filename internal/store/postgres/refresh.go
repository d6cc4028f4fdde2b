package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// queueRefresh adds the insert of a refresh token to b.
func queueRefresh(b *pgx.Batch, r store.RefreshToken) {
	const q = `INSERT INTO refresh_tokens (digest, grant_id, client_id, user_id, scopes, resources, jkt,
		created_at, expires_at, rotated_at, next_digest, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	b.Queue(q, r.Digest, r.GrantID, r.ClientID, optText(r.UserID), list(r.Scopes), list(r.Resources), r.JKT,
		ts(r.CreatedAt), ts(r.ExpiresAt), ts(r.RotatedAt), optText(r.Next), ts(r.RevokedAt))
}

// refreshRow is a refresh token with the state of its grant.
type refreshRow struct {
	store.RefreshToken
	GrantExpiresAt time.Time
}

// selectRefresh reads a refresh token and its grant's state by digest.
const selectRefresh = `SELECT r.digest, r.grant_id, r.client_id, r.user_id, r.scopes, r.resources, r.jkt,
	r.created_at, r.expires_at, r.rotated_at, r.next_digest, r.revoked_at, g.revoked_at, g.expires_at,
	g.subject, g.act
	FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.digest = $1`

// scanRefresh reads one row of selectRefresh.
func scanRefresh(row pgx.Row) (refreshRow, error) {
	var t refreshRow
	err := row.Scan(&t.Digest, &t.GrantID, &t.ClientID, textCol{&t.UserID}, listCol{&t.Scopes},
		listCol{&t.Resources}, &t.JKT, tsCol{&t.CreatedAt}, tsCol{&t.ExpiresAt}, tsCol{&t.RotatedAt}, textCol{&t.Next},
		tsCol{&t.RevokedAt}, tsCol{&t.GrantRevokedAt}, tsCol{&t.GrantExpiresAt},
		&t.GrantSubject, &t.GrantAct)
	return t, err
}

// GetRefreshToken returns the refresh token with digest in any state, with
// its grant's revocation time, or store.ErrNotFound.
func (s *Store) GetRefreshToken(ctx context.Context, digest string) (store.RefreshToken, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	t, err := scanRefresh(s.pool.QueryRow(ctx, selectRefresh, digest))
	if err != nil {
		return store.RefreshToken{}, s.fail("get refresh token", err)
	}
	return t.RefreshToken, nil
}

// RotateRefreshToken applies the rules of store.Rotation in one transaction
// that first locks the family: the grant row (FOR NO KEY UPDATE), then the
// old token (FOR UPDATE). Concurrent rotations of one family therefore run
// one after the other, and each reads the token as the previous one left
// it. RevokeGrant locks the grant first too, so the two cannot deadlock. On
// reuse, the revocation of the family is committed before store.ErrReused
// is returned. The successor joins the old token's family: its GrantID,
// ClientID and UserID are the old token's, whatever r.Next says.
func (s *Store) RotateRefreshToken(ctx context.Context, r store.Rotation) (store.RefreshToken, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var next store.RefreshToken
	var reused bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := lockRefresh(ctx, tx, r.OldDigest)
		if err != nil {
			return err
		}
		next, reused, err = rotate(ctx, tx, r, old)
		return err
	})
	if err != nil {
		return store.RefreshToken{}, s.fail("rotate refresh token", err)
	}
	if reused {
		s.announce(ctx) // the family was revoked
		return store.RefreshToken{}, s.fail("rotate refresh token", store.ErrReused)
	}
	return next, nil
}

// lockRefresh locks the grant of the refresh token digest, then reads and
// locks the token. Both statements go out in one round trip; the second
// runs once the first holds its lock, so it sees the latest committed row.
func lockRefresh(ctx context.Context, tx pgx.Tx, digest string) (refreshRow, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT 1 FROM grants WHERE id = (SELECT grant_id FROM refresh_tokens WHERE digest = $1)
		FOR NO KEY UPDATE`, digest)
	b.Queue(selectRefresh+" FOR UPDATE OF r", digest)
	br := tx.SendBatch(ctx, b)
	_, lockErr := br.Exec()
	old, readErr := scanRefresh(br.QueryRow())
	closeErr := br.Close()
	return old, cmp.Or(lockErr, readErr, closeErr)
}

// rotate decides, in order: another client's or expired → not found;
// rotated already → the grace successor, or reuse (the family is revoked,
// even when it was revoked before); revoked, or its grant revoked or past
// its absolute lifetime → not found; otherwise rotate.
func rotate(ctx context.Context, tx pgx.Tx, r store.Rotation, old refreshRow) (store.RefreshToken, bool, error) {
	now := r.Now.Truncate(time.Microsecond) // the precision of timestamptz
	switch {
	case old.ClientID != r.ClientID:
		return store.RefreshToken{}, false, fmt.Errorf("refresh token of another client: %w", store.ErrNotFound)
	case !old.ExpiresAt.After(now):
		return store.RefreshToken{}, false, fmt.Errorf("refresh token expired: %w", store.ErrNotFound)
	case !old.RotatedAt.IsZero():
		return rotatedAgain(ctx, tx, r, now, old)
	case !old.RevokedAt.IsZero() || !old.GrantRevokedAt.IsZero():
		return store.RefreshToken{}, false, fmt.Errorf("refresh token revoked: %w", store.ErrNotFound)
	case !old.GrantExpiresAt.IsZero() && !old.GrantExpiresAt.After(now):
		return store.RefreshToken{}, false, fmt.Errorf("grant expired: %w", store.ErrNotFound)
	}

	next := r.Next
	next.GrantID, next.ClientID, next.UserID = old.GrantID, old.ClientID, old.UserID
	next.RotatedAt, next.Next, next.RevokedAt, next.GrantRevokedAt = time.Time{}, "", time.Time{}, time.Time{}
	b := &pgx.Batch{}
	b.Queue("UPDATE refresh_tokens SET rotated_at = $1, next_digest = $2 WHERE digest = $3", now, next.Digest, old.Digest)
	queueRefresh(b, next)
	if r.Access != nil {
		queueAccess(b, *r.Access)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return store.RefreshToken{}, false, err
	}
	return next, false, nil
}

// rotatedAgain handles a token that was rotated already: within the grace
// window (its end included) and with the same, still active successor,
// that successor is returned (and r.Access stored); otherwise the whole
// grant is revoked and reused is reported.
func rotatedAgain(ctx context.Context, tx pgx.Tx, r store.Rotation, now time.Time, old refreshRow) (store.RefreshToken, bool, error) {
	inGrace := r.Grace > 0 && old.Next == r.Next.Digest && now.Sub(old.RotatedAt) <= r.Grace
	if inGrace {
		succ, err := scanRefresh(tx.QueryRow(ctx, selectRefresh, old.Next))
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return store.RefreshToken{}, false, err
		}
		active := err == nil && succ.RotatedAt.IsZero() && succ.RevokedAt.IsZero() &&
			succ.GrantRevokedAt.IsZero() && succ.ExpiresAt.After(now)
		if active {
			if r.Access != nil {
				if _, err := tx.Exec(ctx, insertAccess, accessArgs(*r.Access)...); err != nil {
					return store.RefreshToken{}, false, err
				}
			}
			return succ.RefreshToken, false, nil
		}
	}
	if err := revokeGrant(ctx, tx, old.GrantID, now); err != nil {
		return store.RefreshToken{}, false, err
	}
	return store.RefreshToken{}, true, nil
}
