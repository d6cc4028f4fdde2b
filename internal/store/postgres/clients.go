package postgres

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

const clientColumns = `id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris,
	grant_types, scopes, default_scopes, audience, access_token_format, access_token_ttl,
	refresh_token_ttl, refresh_grace, id_token_alg, introspection, skip_consent, source,
	created_at, updated_at, token_endpoint_auth_method, jwks, jwks_uri, resources,
	dpop_bound_access_tokens, require_dpop_nonce, require_par, profile, refresh_rotation,
	exchange_subject_clients, exchange_impersonation, exchange_refresh_tokens, exchange_beyond_lifetime,
	client_uri, logo_uri, metadata, registration_token_hash,
	backchannel_logout_uri, backchannel_logout_session_required, require_mfa, password_grant_mfa`

// clientValues are the placeholders of clientColumns.
const clientValues = `($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
	$22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40, $41)`

// scanClient reads one row of clientColumns.
func scanClient(row pgx.Row) (store.Client, error) {
	var c store.Client
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, listCol{&c.RedirectURIs},
		listCol{&c.PostLogoutRedirectURIs}, listCol{&c.GrantTypes}, listCol{&c.Scopes},
		listCol{&c.DefaultScopes}, listCol{&c.Audience}, &c.AccessTokenFormat, &c.AccessTokenTTL,
		&c.RefreshTokenTTL, &c.RefreshGrace, &c.IDTokenAlg, &c.Introspection, &c.SkipConsent, &c.Source,
		tsCol{&c.CreatedAt}, tsCol{&c.UpdatedAt}, &c.TokenEndpointAuthMethod, &c.JWKS, &c.JWKSURI,
		listCol{&c.Resources}, &c.DPoPBoundAccessTokens, &c.RequireDPoPNonce, &c.RequirePAR, &c.Profile,
		&c.RefreshRotation, listCol{&c.TokenExchange.AllowedSubjectClients}, &c.TokenExchange.Impersonation,
		&c.TokenExchange.RefreshTokens, &c.TokenExchange.BeyondSubjectLifetime,
		&c.ClientURI, &c.LogoURI, &c.Metadata, &c.RegistrationTokenHash,
		&c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired, &c.RequireMFA, &c.PasswordGrantMFA)
	return c, err
}

// clientArgs are the values of clientColumns for c.
func clientArgs(c store.Client) []any {
	return []any{c.ID, c.Name, c.SecretHash, c.Public, list(c.RedirectURIs),
		list(c.PostLogoutRedirectURIs), list(c.GrantTypes), list(c.Scopes),
		list(c.DefaultScopes), list(c.Audience), c.AccessTokenFormat, c.AccessTokenTTL,
		c.RefreshTokenTTL, c.RefreshGrace, c.IDTokenAlg, c.Introspection, c.SkipConsent, c.Source,
		ts(c.CreatedAt), ts(c.UpdatedAt), c.TokenEndpointAuthMethod, c.JWKS, c.JWKSURI,
		list(c.Resources), c.DPoPBoundAccessTokens, c.RequireDPoPNonce, c.RequirePAR, c.Profile,
		c.RefreshRotation, list(c.TokenExchange.AllowedSubjectClients), c.TokenExchange.Impersonation,
		c.TokenExchange.RefreshTokens, c.TokenExchange.BeyondSubjectLifetime,
		c.ClientURI, c.LogoURI, c.Metadata, c.RegistrationTokenHash,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.RequireMFA, c.PasswordGrantMFA}
}

// GetClient returns the client with id, or store.ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c, err := scanClient(s.pool.QueryRow(ctx, "SELECT "+clientColumns+" FROM clients WHERE id = $1", id))
	if err != nil {
		return store.Client{}, s.fail("get client", err)
	}
	return c, nil
}

// ListClients returns every client ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT "+clientColumns+" FROM clients ORDER BY id")
	if err != nil {
		return nil, s.fail("list clients", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Client, error) { return scanClient(row) })
	if err != nil {
		return nil, s.fail("list clients", err)
	}
	return out, nil
}

// CreateClient adds c, or returns store.ErrConflict when its id is taken.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	const q = "INSERT INTO clients (" + clientColumns + ") VALUES " + clientValues
	return s.exec(ctx, "create client", q, clientArgs(c)...)
}

// UpsertClient creates c or replaces every field of the client with its id
// except CreatedAt.
func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	const q = "INSERT INTO clients (" + clientColumns + ") VALUES " + clientValues + `
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name, secret_hash = excluded.secret_hash, public = excluded.public,
			redirect_uris = excluded.redirect_uris,
			post_logout_redirect_uris = excluded.post_logout_redirect_uris,
			grant_types = excluded.grant_types, scopes = excluded.scopes,
			default_scopes = excluded.default_scopes, audience = excluded.audience,
			access_token_format = excluded.access_token_format,
			access_token_ttl = excluded.access_token_ttl, refresh_token_ttl = excluded.refresh_token_ttl,
			refresh_grace = excluded.refresh_grace, id_token_alg = excluded.id_token_alg,
			introspection = excluded.introspection, skip_consent = excluded.skip_consent,
			source = excluded.source, updated_at = excluded.updated_at,
			token_endpoint_auth_method = excluded.token_endpoint_auth_method,
			jwks = excluded.jwks, jwks_uri = excluded.jwks_uri, resources = excluded.resources,
			dpop_bound_access_tokens = excluded.dpop_bound_access_tokens,
			require_dpop_nonce = excluded.require_dpop_nonce, require_par = excluded.require_par,
			profile = excluded.profile, refresh_rotation = excluded.refresh_rotation,
			exchange_subject_clients = excluded.exchange_subject_clients,
			exchange_impersonation = excluded.exchange_impersonation,
			exchange_refresh_tokens = excluded.exchange_refresh_tokens,
			exchange_beyond_lifetime = excluded.exchange_beyond_lifetime,
			client_uri = excluded.client_uri, logo_uri = excluded.logo_uri,
			metadata = excluded.metadata, registration_token_hash = excluded.registration_token_hash,
			backchannel_logout_uri = excluded.backchannel_logout_uri,
			backchannel_logout_session_required = excluded.backchannel_logout_session_required,
			require_mfa = excluded.require_mfa, password_grant_mfa = excluded.password_grant_mfa`
	if err := s.exec(ctx, "upsert client", q, clientArgs(c)...); err != nil {
		return err
	}
	s.announce(ctx)
	return nil
}

// SetClientSecret replaces the secret hash of client id, or returns
// store.ErrNotFound.
func (s *Store) SetClientSecret(ctx context.Context, id, secretHash string, now time.Time) error {
	const q = "UPDATE clients SET secret_hash = $1, updated_at = $2 WHERE id = $3"
	if err := s.execOne(ctx, "set client secret", q, secretHash, ts(now), id); err != nil {
		return err
	}
	s.announce(ctx)
	return nil
}

// DeleteClient removes the client and, through ON DELETE CASCADE, its codes,
// grants, tokens and consents, or returns store.ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := s.execOne(ctx, "delete client", "DELETE FROM clients WHERE id = $1", id); err != nil {
		return err
	}
	s.announce(ctx)
	return nil
}

// operatorSources is the condition on source of ListOperatorClients, as
// index ranges around the two self-registered sources.
const operatorSources = `(source < 'cimd' OR (source > 'cimd' AND source < 'registration') OR source > 'registration')`

// originLookup finds the candidate redirect URIs of an origin: each
// branch is one range of the primary key of client_redirect_uris (COLLATE
// "C": "/" is followed by "0", "?" by "@", "#" by "$").
const originLookup = `(SELECT uri FROM client_redirect_uris WHERE uri = $1::text LIMIT 2)
	UNION ALL (SELECT uri FROM client_redirect_uris WHERE uri >= $1::text || '/' AND uri < $1::text || '0' LIMIT 2)
	UNION ALL (SELECT uri FROM client_redirect_uris WHERE uri >= $1::text || '?' AND uri < $1::text || '@' LIMIT 2)
	UNION ALL (SELECT uri FROM client_redirect_uris WHERE uri >= $1::text || '#' AND uri < $1::text || '$' LIMIT 2)`

// ListOperatorClients returns the clients an operator made, by id.
func (s *Store) ListOperatorClients(ctx context.Context) ([]store.Client, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT "+clientColumns+" FROM clients WHERE "+operatorSources)
	if err != nil {
		return nil, s.fail("list operator clients", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Client, error) { return scanClient(row) })
	if err != nil {
		return nil, s.fail("list operator clients", err)
	}
	slices.SortFunc(out, func(a, b store.Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// RedirectURIsOfOrigin returns the candidate redirect URIs of origin.
func (s *Store) RedirectURIsOfOrigin(ctx context.Context, origin string) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, originLookup, origin)
	if err != nil {
		return nil, s.fail("redirect uris of origin", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.fail("redirect uris of origin", err)
	}
	return out, nil
}
