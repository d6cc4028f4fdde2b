package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// clientSettings is the JSON of the settings column: every field of
// store.Client that has no column of its own. Durations are nanoseconds.
type clientSettings struct {
	RedirectURIs           []string          `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string          `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes             []string          `json:"grant_types,omitempty"`
	Scopes                 []string          `json:"scopes,omitempty"`
	DefaultScopes          []string          `json:"default_scopes,omitempty"`
	Audience               []string          `json:"audience,omitempty"`
	AccessTokenFormat      string            `json:"access_token_format,omitempty"`
	AccessTokenTTL         int64             `json:"access_token_ttl_ns,omitempty"`
	RefreshTokenTTL        int64             `json:"refresh_token_ttl_ns,omitempty"`
	RefreshGrace           int64             `json:"refresh_grace_ns,omitempty"`
	IDTokenAlg             string            `json:"id_token_alg,omitempty"`
	BackchannelLogoutURI   string            `json:"backchannel_logout_uri,omitempty"`
	BackchannelSession     bool              `json:"backchannel_logout_session_required,omitempty"`
	Introspection          bool              `json:"introspection,omitempty"`
	RequireMFA             bool              `json:"require_mfa,omitempty"`
	PasswordGrantMFA       bool              `json:"password_grant_mfa,omitempty"`
	SkipConsent            bool              `json:"skip_consent,omitempty"`
	AuthMethod             string            `json:"token_endpoint_auth_method,omitempty"`
	JWKS                   string            `json:"jwks,omitempty"`
	JWKSURI                string            `json:"jwks_uri,omitempty"`
	Resources              []string          `json:"resources,omitempty"`
	DPoPBoundAccessTokens  bool              `json:"dpop_bound_access_tokens,omitempty"`
	RequireDPoPNonce       bool              `json:"require_dpop_nonce,omitempty"`
	RequirePAR             bool              `json:"require_pushed_authorization_requests,omitempty"`
	Profile                string            `json:"profile,omitempty"`
	RefreshRotation        string            `json:"refresh_rotation,omitempty"`
	TokenExchange          *exchangeSettings `json:"token_exchange,omitempty"`
	ClientURI              string            `json:"client_uri,omitempty"`
	LogoURI                string            `json:"logo_uri,omitempty"`
	Metadata               string            `json:"metadata,omitempty"`
}

// settingsOf encodes the settings column of c.
func settingsOf(c store.Client) string {
	b, _ := json.Marshal(clientSettings{ // strings, bools and ints always marshal
		RedirectURIs:           c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes:             c.GrantTypes,
		Scopes:                 c.Scopes,
		DefaultScopes:          c.DefaultScopes,
		Audience:               c.Audience,
		AccessTokenFormat:      c.AccessTokenFormat,
		AccessTokenTTL:         int64(c.AccessTokenTTL),
		RefreshTokenTTL:        int64(c.RefreshTokenTTL),
		RefreshGrace:           int64(c.RefreshGrace),
		IDTokenAlg:             c.IDTokenAlg,
		BackchannelLogoutURI:   c.BackchannelLogoutURI,
		BackchannelSession:     c.BackchannelLogoutSessionRequired,
		Introspection:          c.Introspection,
		RequireMFA:             c.RequireMFA,
		PasswordGrantMFA:       c.PasswordGrantMFA,
		SkipConsent:            c.SkipConsent,
		AuthMethod:             c.TokenEndpointAuthMethod,
		JWKS:                   c.JWKS,
		JWKSURI:                c.JWKSURI,
		Resources:              c.Resources,
		DPoPBoundAccessTokens:  c.DPoPBoundAccessTokens,
		RequireDPoPNonce:       c.RequireDPoPNonce,
		RequirePAR:             c.RequirePAR,
		Profile:                c.Profile,
		RefreshRotation:        c.RefreshRotation,
		TokenExchange:          exchangePolicyOf(c.TokenExchange),
		ClientURI:              c.ClientURI,
		LogoURI:                c.LogoURI,
		Metadata:               c.Metadata,
	})
	return string(b)
}

const clientColumns = `id, name, secret_hash, public, source, settings, created_at, updated_at, registration_token_hash`

// scanClient reads one row of clientColumns.
func scanClient(row scanner) (store.Client, error) {
	var c store.Client
	var settings string
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.Source, &settings,
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}, &c.RegistrationTokenHash)
	if err != nil {
		return store.Client{}, err
	}
	var cs clientSettings
	if err := json.Unmarshal([]byte(settings), &cs); err != nil {
		return store.Client{}, fmt.Errorf("client %s: settings: %w", c.ID, err)
	}
	c.RedirectURIs = cs.RedirectURIs
	c.PostLogoutRedirectURIs = cs.PostLogoutRedirectURIs
	c.GrantTypes = cs.GrantTypes
	c.Scopes = cs.Scopes
	c.DefaultScopes = cs.DefaultScopes
	c.Audience = cs.Audience
	c.AccessTokenFormat = cs.AccessTokenFormat
	c.AccessTokenTTL = time.Duration(cs.AccessTokenTTL)
	c.RefreshTokenTTL = time.Duration(cs.RefreshTokenTTL)
	c.RefreshGrace = time.Duration(cs.RefreshGrace)
	c.IDTokenAlg = cs.IDTokenAlg
	c.BackchannelLogoutURI = cs.BackchannelLogoutURI
	c.BackchannelLogoutSessionRequired = cs.BackchannelSession
	c.Introspection = cs.Introspection
	c.RequireMFA, c.PasswordGrantMFA = cs.RequireMFA, cs.PasswordGrantMFA
	c.SkipConsent = cs.SkipConsent
	c.TokenEndpointAuthMethod = cs.AuthMethod
	c.JWKS = cs.JWKS
	c.JWKSURI = cs.JWKSURI
	c.Resources = cs.Resources
	c.DPoPBoundAccessTokens = cs.DPoPBoundAccessTokens
	c.RequireDPoPNonce = cs.RequireDPoPNonce
	c.RequirePAR = cs.RequirePAR
	c.Profile = cs.Profile
	c.RefreshRotation = cs.RefreshRotation
	c.ClientURI, c.LogoURI, c.Metadata = cs.ClientURI, cs.LogoURI, cs.Metadata
	if x := cs.TokenExchange; x != nil {
		c.TokenExchange = store.ExchangePolicy{AllowedSubjectClients: x.AllowedSubjectClients,
			Impersonation: x.Impersonation, RefreshTokens: x.RefreshTokens, BeyondSubjectLifetime: x.BeyondSubjectLifetime}
	}
	return c, nil
}

// exchangeSettings is store.ExchangePolicy in the settings column.
type exchangeSettings struct {
	AllowedSubjectClients []string `json:"allowed_subject_clients,omitempty"`
	Impersonation         bool     `json:"impersonation,omitempty"`
	RefreshTokens         bool     `json:"refresh_tokens,omitempty"`
	BeyondSubjectLifetime bool     `json:"beyond_subject_lifetime,omitempty"`
}

// exchangePolicyOf is p for the settings column, or nil when it is the
// zero policy (so records without one stay as they were).
func exchangePolicyOf(p store.ExchangePolicy) *exchangeSettings {
	if len(p.AllowedSubjectClients) == 0 && !p.Impersonation && !p.RefreshTokens && !p.BeyondSubjectLifetime {
		return nil
	}
	return &exchangeSettings{p.AllowedSubjectClients, p.Impersonation, p.RefreshTokens, p.BeyondSubjectLifetime}
}

// clientArgs are the values of clientColumns for c.
func clientArgs(c store.Client) []any {
	return []any{c.ID, c.Name, c.SecretHash, c.Public, c.Source, settingsOf(c), msOf(c.CreatedAt), msOf(c.UpdatedAt),
		c.RegistrationTokenHash}
}

// GetClient returns the client with id, or store.ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	row := s.r.QueryRowContext(ctx, "SELECT "+clientColumns+" FROM clients WHERE id = ?", id)
	c, err := scanClient(row)
	if err != nil {
		return store.Client{}, s.fail("get client", err)
	}
	return c, nil
}

// ListClients returns every client ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+clientColumns+" FROM clients ORDER BY id")
	if err != nil {
		return nil, s.fail("list clients", err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, s.fail("list clients", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list clients", err)
	}
	return out, nil
}

// CreateClient adds c, or returns store.ErrConflict when its id is taken.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	const q = "INSERT INTO clients (" + clientColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
	if _, err := s.w.ExecContext(ctx, q, clientArgs(c)...); err != nil {
		return s.fail("create client", err)
	}
	return nil
}

// UpsertClient creates c or replaces every field of the client with its id
// except CreatedAt.
func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	const q = "INSERT INTO clients (" + clientColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" + `
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name, secret_hash = excluded.secret_hash,
			public = excluded.public, source = excluded.source,
			settings = excluded.settings, updated_at = excluded.updated_at,
			registration_token_hash = excluded.registration_token_hash`
	if _, err := s.w.ExecContext(ctx, q, clientArgs(c)...); err != nil {
		return s.fail("upsert client", err)
	}
	return nil
}

// SetClientSecret replaces the secret hash of client id, or returns
// store.ErrNotFound.
func (s *Store) SetClientSecret(ctx context.Context, id, secretHash string, now time.Time) error {
	const q = "UPDATE clients SET secret_hash = ?, updated_at = ? WHERE id = ?"
	return s.execOne(ctx, "set client secret", q, secretHash, msOf(now), id)
}

// DeleteClient removes the client and, through ON DELETE CASCADE, its codes,
// grants, tokens and consents, or returns store.ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete client", "DELETE FROM clients WHERE id = ?", id)
}

// execOne runs a writer statement that must touch a row, and returns
// store.ErrNotFound when it touched none.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return s.fail(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(op, err)
	}
	if n == 0 {
		return s.fail(op, store.ErrNotFound)
	}
	return nil
}

// operatorSources is the condition on source of ListOperatorClients, as
// index ranges around the two self-registered sources, so the planner
// walks clients_source instead of the table.
const operatorSources = `(source < 'cimd' OR (source > 'cimd' AND source < 'registration') OR source > 'registration')`

// originLookup finds the candidate redirect URIs of an origin: each
// branch is one range of the primary key of client_redirect_uris ("/" is
// followed by "0", "?" by "@", "#" by "$").
const originLookup = `SELECT uri FROM client_redirect_uris WHERE uri = ?1
	UNION ALL SELECT * FROM (SELECT uri FROM client_redirect_uris WHERE uri >= ?1 || '/' AND uri < ?1 || '0' LIMIT 2)
	UNION ALL SELECT * FROM (SELECT uri FROM client_redirect_uris WHERE uri >= ?1 || '?' AND uri < ?1 || '@' LIMIT 2)
	UNION ALL SELECT * FROM (SELECT uri FROM client_redirect_uris WHERE uri >= ?1 || '#' AND uri < ?1 || '$' LIMIT 2)
	LIMIT 8`

// ListOperatorClients returns the clients an operator made, by id.
func (s *Store) ListOperatorClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+clientColumns+" FROM clients WHERE "+operatorSources)
	if err != nil {
		return nil, s.fail("list operator clients", err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, s.fail("list operator clients", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list operator clients", err)
	}
	slices.SortFunc(out, func(a, b store.Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// RedirectURIsOfOrigin returns the candidate redirect URIs of origin.
func (s *Store) RedirectURIsOfOrigin(ctx context.Context, origin string) ([]string, error) {
	out, err := s.strings(ctx, originLookup, origin)
	if err != nil {
		return nil, s.fail("redirect uris of origin", err)
	}
	return out, nil
}
