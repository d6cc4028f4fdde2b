package sqlite

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// CreatePushedRequest stores p; a digest that exists already gives
// store.ErrConflict.
func (s *Store) CreatePushedRequest(ctx context.Context, p store.PushedRequest) error {
	const q = `INSERT INTO pushed_requests (digest, client_id, params, dpop_jkt, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`
	_, err := s.w.ExecContext(ctx, q, p.Digest, p.ClientID, p.Params, p.DPoPJKT, msOf(p.CreatedAt), msOf(p.ExpiresAt))
	if err != nil {
		return s.fail("create pushed request", err)
	}
	return nil
}

// TakePushedRequest deletes and returns the pushed request with digest in
// one DELETE … RETURNING on the writer, so that exactly one caller gets it.
// A request of another client, or one expired at now, matches nothing and
// stays; every miss is store.ErrNotFound.
func (s *Store) TakePushedRequest(ctx context.Context, digest, clientID string, now time.Time) (store.PushedRequest, error) {
	const q = `DELETE FROM pushed_requests WHERE digest = ? AND client_id = ? AND expires_at > ?
		RETURNING digest, client_id, params, dpop_jkt, created_at, expires_at`
	var p store.PushedRequest
	err := s.w.QueryRowContext(ctx, q, digest, clientID, now.UnixMilli()).Scan(&p.Digest, &p.ClientID,
		&p.Params, &p.DPoPJKT, timeCol{&p.CreatedAt}, timeCol{&p.ExpiresAt})
	if err != nil {
		return store.PushedRequest{}, s.fail("take pushed request", err)
	}
	return p, nil
}
