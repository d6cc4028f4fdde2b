package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// RegisterClient adds c unless max > 0 and max clients of its source exist
// (store.ErrLimit). A transaction advisory lock per source serializes
// registrations, so the count (by the clients_source index) and the
// insert are one step across instances.
func (s *Store) RegisterClient(ctx context.Context, c store.Client, max int) error {
	if max <= 0 {
		return s.CreateClient(ctx, c)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	full := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('latchkey.register.' || $1::text))`, c.Source); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM clients WHERE source = $1", c.Source).Scan(&n); err != nil {
			return err
		}
		if full = n >= max; full {
			return nil
		}
		_, err := tx.Exec(ctx, "INSERT INTO clients ("+clientColumns+") VALUES "+clientValues, clientArgs(c)...)
		return err
	})
	switch {
	case err != nil:
		return s.fail("register client", err)
	case full:
		return fmt.Errorf("postgres: register client: %w", store.ErrLimit)
	}
	return nil
}

// UpdateRegisteredClient replaces the client's fields while its
// registration token hash is still tokenHash.
func (s *Store) UpdateRegisteredClient(ctx context.Context, c store.Client, tokenHash string) error {
	const q = `UPDATE clients SET name = $2, secret_hash = $3, public = $4, redirect_uris = $5,
		grant_types = $6, scopes = $7, token_endpoint_auth_method = $8, jwks = $9, jwks_uri = $10,
		resources = $11, client_uri = $12, logo_uri = $13, metadata = $14, updated_at = $15,
		registration_token_hash = $16
		WHERE id = $1 AND registration_token_hash = $17 AND registration_token_hash <> ''`
	err := s.execOne(ctx, "update registered client", q, c.ID, c.Name, c.SecretHash, c.Public,
		list(c.RedirectURIs), list(c.GrantTypes), list(c.Scopes), c.TokenEndpointAuthMethod, c.JWKS,
		c.JWKSURI, list(c.Resources), c.ClientURI, c.LogoURI, c.Metadata, ts(c.UpdatedAt),
		c.RegistrationTokenHash, tokenHash)
	if err != nil {
		return err
	}
	s.announce(ctx)
	return nil
}

// CreateInitialToken stores t.
func (s *Store) CreateInitialToken(ctx context.Context, t store.InitialToken) error {
	const q = "INSERT INTO initial_access_tokens (id, digest, uses_left, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)"
	return s.exec(ctx, "create initial token", q, t.ID, t.Digest, t.UsesLeft, ts(t.CreatedAt), ts(t.ExpiresAt))
}

// UseInitialToken spends one use in one statement: a token with no use
// left, or expired, matches no row; the row lock makes concurrent uses of
// the last one see it spent.
func (s *Store) UseInitialToken(ctx context.Context, digest string, now time.Time) error {
	const q = `UPDATE initial_access_tokens SET uses_left = CASE WHEN uses_left < 0 THEN uses_left ELSE uses_left - 1 END
		WHERE digest = $1 AND uses_left <> 0 AND expires_at > $2`
	return s.execOne(ctx, "use initial token", q, digest, ts(now))
}

// ListInitialTokens returns every initial access token ordered by id.
func (s *Store) ListInitialTokens(ctx context.Context) ([]store.InitialToken, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT id, digest, uses_left, created_at, expires_at FROM initial_access_tokens ORDER BY id")
	if err != nil {
		return nil, s.fail("list initial tokens", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.InitialToken, error) {
		var t store.InitialToken
		err := row.Scan(&t.ID, &t.Digest, &t.UsesLeft, tsCol{&t.CreatedAt}, tsCol{&t.ExpiresAt})
		return t, err
	})
	if err != nil {
		return nil, s.fail("list initial tokens", err)
	}
	return out, nil
}

// DeleteInitialToken removes the token with id.
func (s *Store) DeleteInitialToken(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete initial token", "DELETE FROM initial_access_tokens WHERE id = $1", id)
}
