package admin

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

// ClientFromConfig is the store record of a client as the config file,
// the CLI and the admin API describe it (validated already), with Source
// "config" and both times now.
func ClientFromConfig(cc config.Client, now time.Time) store.Client {
	name := cc.Name
	if name == "" {
		name = cc.ID
	}
	method := cc.TokenEndpointAuthMethod
	if cc.UsesKeys() {
		method = string(protocol.AuthPrivateKeyJWT) // fapi2 allows nothing else
	}
	fapi := cc.Profile == config.ProfileFAPI2
	return store.Client{
		ID: cc.ID, Name: name, Public: cc.Public, RedirectURIs: cc.RedirectURIs,
		PostLogoutRedirectURIs: cc.PostLogoutRedirectURIs, GrantTypes: cc.GrantTypes, Scopes: cc.Scopes,
		DefaultScopes: cc.DefaultScopes, Audience: cc.Audience, AccessTokenFormat: cc.AccessTokenFormat,
		AccessTokenTTL: cc.AccessTokenTTL.D(), RefreshTokenTTL: cc.RefreshTokenTTL.D(), RefreshGrace: cc.RefreshGrace.D(),
		IDTokenAlg: cc.IDTokenSignedResponseAlg, Introspection: cc.Introspection, SkipConsent: cc.SkipConsent,
		RequireMFA: cc.RequireMFA, PasswordGrantMFA: cc.PasswordGrantMFA,
		TokenEndpointAuthMethod: method,
		JWKS:                    jwksJSON(cc.JWKS), JWKSURI: cc.JWKSURI, Resources: cc.Resources,
		BackchannelLogoutURI: cc.BackchannelLogoutURI, BackchannelLogoutSessionRequired: cc.BackchannelLogoutSessionRequired,
		DPoPBoundAccessTokens: cc.DPoPBoundAccessTokens || fapi, RequireDPoPNonce: cc.RequireDPoPNonce,
		RequirePAR: cc.RequirePushedAuthorizationRequests || fapi, Profile: cc.Profile,
		RefreshRotation: cc.RefreshTokenRotation, TokenExchange: exchangePolicy(cc.TokenExchange),
		Source: "config", CreatedAt: now, UpdatedAt: now,
	}
}

// exchangePolicy is a client's token exchange policy as the store keeps it.
func exchangePolicy(x *config.TokenExchange) store.ExchangePolicy {
	if x == nil {
		return store.ExchangePolicy{}
	}
	return store.ExchangePolicy{AllowedSubjectClients: x.AllowedSubjectClients, Impersonation: x.Impersonation,
		RefreshTokens: x.RefreshTokens, BeyondSubjectLifetime: x.BeyondSubjectLifetime}
}

// jwksJSON writes a JWK Set read from YAML or JSON as JSON ("" for none);
// validation has checked that it is one.
func jwksJSON(set map[string]any) string {
	if len(set) == 0 {
		return ""
	}
	b, err := json.Marshal(set)
	if err != nil {
		return ""
	}
	return string(b)
}

// ValidateClient runs the config file's rules, with the server's grants
// and authentication methods, on one client. It returns the problems as
// field errors named by the config file's keys (grant_types[1]), or nil.
func ValidateClient(cc config.Client) ([]FieldError, error) {
	cfg := config.Default()
	cfg.Clients = []config.Client{cc}
	return fieldErrors(cfg, "clients[0]")
}

// fieldErrors runs the config file's rules on cfg, the defaults with the
// one client or user being checked at key, and names each problem by its
// key under it (grant_types[1]).
func fieldErrors(cfg config.Config, key string) ([]FieldError, error) {
	err := cfg.Validate(config.Rules{Grants: server.Grants(), AuthMethods: server.AuthMethods()})
	if err == nil {
		return nil, nil
	}
	var probs config.Problems
	if !errors.As(err, &probs) {
		return nil, err
	}
	var out []FieldError
	for _, p := range probs {
		field, ok := strings.CutPrefix(p.Where, key+".")
		if !ok {
			field = strings.TrimPrefix(p.Where, key)
		}
		out = append(out, FieldError{Field: field, Detail: p.Message})
	}
	return out, nil
}

// ClientView is the JSON of a client, named as in the config file; the
// secret hash never appears, only whether there is one.
func ClientView(c store.Client) map[string]any {
	v := map[string]any{
		"id": c.ID, "name": c.Name, "public": c.Public, "redirect_uris": nonNil(c.RedirectURIs),
		"post_logout_redirect_uris": nonNil(c.PostLogoutRedirectURIs), "grant_types": nonNil(c.GrantTypes),
		"scopes": nonNil(c.Scopes), "default_scopes": nonNil(c.DefaultScopes), "audience": nonNil(c.Audience),
		"access_token_format": c.AccessTokenFormat, "introspection": c.Introspection, "skip_consent": c.SkipConsent,
		"require_mfa": c.RequireMFA, "password_grant_mfa": c.PasswordGrantMFA,
		"token_endpoint_auth_method": c.TokenEndpointAuthMethod, "jwks_uri": c.JWKSURI, "resources": nonNil(c.Resources),
		"dpop_bound_access_tokens": c.DPoPBoundAccessTokens, "require_dpop_nonce": c.RequireDPoPNonce,
		"require_pushed_authorization_requests": c.RequirePAR, "profile": c.Profile,
		"refresh_token_rotation": c.RefreshRotation, "id_token_signed_response_alg": c.IDTokenAlg,
		"backchannel_logout_uri": c.BackchannelLogoutURI, "backchannel_logout_session_required": c.BackchannelLogoutSessionRequired,
		"source": c.Source, "has_secret": c.SecretHash != "",
		"created_at": c.CreatedAt.UTC().Format(time.RFC3339), "updated_at": c.UpdatedAt.UTC().Format(time.RFC3339),
	}
	// Zero lifetimes (the server's defaults) are left out, as in the config file.
	for name, d := range map[string]time.Duration{"access_token_ttl": c.AccessTokenTTL,
		"refresh_token_ttl": c.RefreshTokenTTL, "refresh_grace": c.RefreshGrace} {
		if d != 0 {
			v[name] = d.String()
		}
	}
	if c.JWKS != "" {
		var set map[string]any
		if json.Unmarshal([]byte(c.JWKS), &set) == nil {
			v["jwks"] = set
		}
	}
	if x := c.TokenExchange; len(x.AllowedSubjectClients) > 0 || x.Impersonation || x.RefreshTokens || x.BeyondSubjectLifetime {
		v["token_exchange"] = map[string]any{"allowed_subject_clients": nonNil(x.AllowedSubjectClients),
			"impersonation": x.Impersonation, "refresh_tokens": x.RefreshTokens, "beyond_subject_lifetime": x.BeyondSubjectLifetime}
	}
	return v
}

// clientETag is the ETag of a client: its view and its secret.
func clientETag(c store.Client) string {
	return etagOf(ClientView(c), c.SecretHash, c.RegistrationTokenHash)
}

// nonNil shows an empty list as [] rather than null.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
