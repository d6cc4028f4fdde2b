package postgres

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// CreatePushedRequest stores p; a digest that exists already gives
// store.ErrConflict.
func (s *Store) CreatePushedRequest(ctx context.Context, p store.PushedRequest) error {
	const q = `INSERT INTO pushed_requests (digest, client_id, params, dpop_jkt, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`
	return s.exec(ctx, "create pushed request", q, p.Digest, p.ClientID, p.Params, p.DPoPJKT,
		ts(p.CreatedAt), ts(p.ExpiresAt))
}

// TakePushedRequest deletes and returns the pushed request with digest in
// one DELETE … RETURNING. Concurrent callers wait for the first one's row
// lock and then find the row gone, so exactly one gets it. A request of
// another client, or one expired at now, matches nothing and stays; every
// miss is store.ErrNotFound.
func (s *Store) TakePushedRequest(ctx context.Context, digest, clientID string, now time.Time) (store.PushedRequest, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	const q = `DELETE FROM pushed_requests WHERE digest = $1 AND client_id = $2 AND expires_at > $3
		RETURNING digest, client_id, params, dpop_jkt, created_at, expires_at`
	var p store.PushedRequest
	err := s.pool.QueryRow(ctx, q, digest, clientID, now).Scan(&p.Digest, &p.ClientID, &p.Params, &p.DPoPJKT,
		tsCol{&p.CreatedAt}, tsCol{&p.ExpiresAt})
	if err != nil {
		return store.PushedRequest{}, s.fail("take pushed request", err)
	}
	return p, nil
}
