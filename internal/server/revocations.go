package server

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Sizes of the read caches (database.cache_ttl): a revocation answer is
// about 150 bytes, a client record about 1 KiB.
const (
	revocationCacheSize = 16384
	clientCacheSize     = 4096
)

// revocationKey is one IsRevoked question: resource servers introspect
// the same token on every request they serve.
type revocationKey struct{ jti, grantID string }

// isRevoked answers like the store's IsRevoked, from the read cache when
// it can.
func (s *Server) isRevoked(ctx context.Context, jti, grantID string, now time.Time) (bool, error) {
	return s.revocations.get(ctx, revocationKey{jti, grantID}, now, false, func(ctx context.Context) (bool, error) {
		return s.st.IsRevoked(ctx, jti, grantID)
	})
}

// cachedClient returns the client with id from the read cache, or from
// the store when fresh is set or it is not cached.
func (s *Server) cachedClient(ctx context.Context, id string, now time.Time, fresh bool) (store.Client, error) {
	return s.clients.get(ctx, id, now, fresh, func(ctx context.Context) (store.Client, error) {
		return s.st.GetClient(ctx, id)
	})
}

// purgingStore is the store as the server uses it: every call that
// revokes tokens or changes a client purges the read caches once the
// store has answered, before the server answers its own client.
type purgingStore struct {
	store.Store
	purge func()
}

func (p purgingStore) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	defer p.purge()
	return p.Store.RevokeGrant(ctx, id, now)
}

func (p purgingStore) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	defer p.purge()
	return p.Store.RevokeJTI(ctx, jti, exp)
}

func (p purgingStore) DeleteClient(ctx context.Context, id string) error {
	defer p.purge()
	return p.Store.DeleteClient(ctx, id)
}

func (p purgingStore) UpsertClient(ctx context.Context, c store.Client) error {
	defer p.purge()
	return p.Store.UpsertClient(ctx, c)
}

func (p purgingStore) SetClientSecret(ctx context.Context, id, secretHash string, now time.Time) error {
	defer p.purge()
	return p.Store.SetClientSecret(ctx, id, secretHash, now)
}

func (p purgingStore) DeleteUser(ctx context.Context, id string) error {
	defer p.purge()
	return p.Store.DeleteUser(ctx, id)
}

// RotateRefreshToken purges when the store detected a reuse and revoked
// the whole grant (RFC 9700 §4.14.2).
func (p purgingStore) RotateRefreshToken(ctx context.Context, r store.Rotation) (store.RefreshToken, error) {
	rt, err := p.Store.RotateRefreshToken(ctx, r)
	if errors.Is(err, store.ErrReused) {
		p.purge()
	}
	return rt, err
}
