package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
	"go.yaml.in/yaml/v3"
)

// runClientRemote is latchkey client … --server URL: the same commands
// and output, through the admin API.
func runClientRemote(ctx context.Context, sub, id string, c clientFlags, rf remoteFlags, e env) error {
	scope := admin.ScopeClientsWrite
	if sub == "list" || sub == "show" {
		scope = admin.ScopeClientsRead
	}
	if sub != "list" && id == "" {
		return usageError{"name the client: latchkey client " + sub + " ID --server URL"}
	}
	ac, err := rf.connect(ctx, scope)
	if err != nil {
		return err
	}
	path := "/clients/" + url.PathEscape(id)
	switch sub {
	case "create":
		cc, err := c.toConfig(id)
		if err != nil {
			return err
		}
		body, err := configBody(cc)
		if err != nil {
			return err
		}
		var created map[string]any
		if err := ac.call(ctx, "POST", "/clients", body, &created); err != nil {
			return err
		}
		printCreated(e, id, str(created["client_secret"]), str(created["token_endpoint_auth_method"]))
		return nil
	case "list":
		views, err := ac.listAll(ctx, "/clients")
		if err != nil {
			return err
		}
		return printClients(views, rf.output, e)
	case "show":
		var v apiClient
		if err := ac.call(ctx, "GET", path, nil, &v); err != nil {
			return err
		}
		return printClient(v.record(), e)
	case "delete":
		if err := ac.call(ctx, "DELETE", path, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted client %s and every token issued to it\n", id)
		return nil
	case "rotate-secret":
		var out struct {
			Secret string `json:"client_secret"`
		}
		if err := ac.call(ctx, "POST", path+"/secret", nil, &out); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "client_secret: %s\n", out.Secret)
		fmt.Fprintln(e.stdout, "The old secret no longer works. Store this one now: it is shown only once.")
		return nil
	}
	return usageError{fmt.Sprintf("unknown client subcommand %q", sub)}
}

// configBody is a config file client as the admin API's JSON body: the
// config file's keys, the empty ones left out.
func configBody(cc any) (map[string]any, error) {
	b, err := yaml.Marshal(cc)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case string:
			if x == "" {
				delete(m, k)
			}
		case bool:
			if !x {
				delete(m, k)
			}
		case int:
			if x == 0 {
				delete(m, k)
			}
		case []any:
			if len(x) == 0 {
				delete(m, k)
			}
		}
	}
	return m, nil
}

// apiClient is the admin API's client view, decoded.
type apiClient struct {
	ID                     string          `json:"id"`
	Name                   string          `json:"name"`
	Public                 bool            `json:"public"`
	RedirectURIs           []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs []string        `json:"post_logout_redirect_uris"`
	GrantTypes             []string        `json:"grant_types"`
	Scopes                 []string        `json:"scopes"`
	DefaultScopes          []string        `json:"default_scopes"`
	Audience               []string        `json:"audience"`
	AccessTokenFormat      string          `json:"access_token_format"`
	Introspection          bool            `json:"introspection"`
	SkipConsent            bool            `json:"skip_consent"`
	AuthMethod             string          `json:"token_endpoint_auth_method"`
	JWKS                   json.RawMessage `json:"jwks"`
	JWKSURI                string          `json:"jwks_uri"`
	Resources              []string        `json:"resources"`
	DPoPBound              bool            `json:"dpop_bound_access_tokens"`
	RequireNonce           bool            `json:"require_dpop_nonce"`
	RequirePAR             bool            `json:"require_pushed_authorization_requests"`
	RequireMFA             bool            `json:"require_mfa"`
	PasswordGrantMFA       bool            `json:"password_grant_mfa"`
	Profile                string          `json:"profile"`
	Rotation               string          `json:"refresh_token_rotation"`
	TokenExchange          struct {
		AllowedSubjectClients []string `json:"allowed_subject_clients"`
		Impersonation         bool     `json:"impersonation"`
		RefreshTokens         bool     `json:"refresh_tokens"`
		BeyondSubjectLifetime bool     `json:"beyond_subject_lifetime"`
	} `json:"token_exchange"`
	Source    string    `json:"source"`
	HasSecret bool      `json:"has_secret"`
	CreatedAt time.Time `json:"created_at"`
}

// record is the client as the store would hold it, for printClient; a
// secret is marked, never known.
func (a apiClient) record() store.Client {
	c := store.Client{ID: a.ID, Name: a.Name, Public: a.Public, RedirectURIs: orNil(a.RedirectURIs),
		PostLogoutRedirectURIs: orNil(a.PostLogoutRedirectURIs), GrantTypes: orNil(a.GrantTypes), Scopes: orNil(a.Scopes),
		DefaultScopes: orNil(a.DefaultScopes), Audience: orNil(a.Audience), AccessTokenFormat: a.AccessTokenFormat,
		Introspection: a.Introspection, SkipConsent: a.SkipConsent, TokenEndpointAuthMethod: a.AuthMethod,
		JWKSURI: a.JWKSURI, Resources: orNil(a.Resources), DPoPBoundAccessTokens: a.DPoPBound, RequireDPoPNonce: a.RequireNonce,
		RequirePAR: a.RequirePAR, RequireMFA: a.RequireMFA, PasswordGrantMFA: a.PasswordGrantMFA, Profile: a.Profile, RefreshRotation: a.Rotation, Source: a.Source, CreatedAt: a.CreatedAt.Local(),
		TokenExchange: store.ExchangePolicy(a.TokenExchange)}
	if len(a.JWKS) > 0 {
		c.JWKS = string(a.JWKS)
	}
	if a.HasSecret {
		c.SecretHash = "(set)"
	}
	return c
}

// orNil is an empty list as the store returns it: nil.
func orNil(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}
