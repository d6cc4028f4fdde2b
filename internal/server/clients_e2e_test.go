package server_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// authStyles are the two ways x/oauth2 sends client credentials: Basic
// (client_secret_basic, S003) and the body (client_secret_post, S146).
var authStyles = map[string]oauth2.AuthStyle{"basic": oauth2.AuthStyleInHeader, "post": oauth2.AuthStyleInParams}

// verifiedJWT is an access token checked as a resource server would: the
// JWKS fetched over HTTP, the key chosen by kid, the algorithm from an
// allowlist (RFC 9068 §4).
type verifiedJWT struct {
	Header jose.Header
	Claims map[string]any
}

func fetchJWKS(t testing.TB, env *testenv.Env) jose.JSONWebKeySet {
	t.Helper()
	r := send(t, env, http.MethodGet, "/jwks", "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: status %d", r.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	return set
}

func verifyJWT(t testing.TB, env *testenv.Env, raw string) verifiedJWT {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatalf("parse access token: %v", err)
	}
	h := jws.Signatures[0].Protected
	if h.KeyID == "" {
		t.Fatal("access token has no kid (S085, S237)")
	}
	set := fetchJWKS(t, env)
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s: %d keys in the JWKS, want 1", h.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return verifiedJWT{Header: h, Claims: claims}
}

// checkRFC9068 checks the header and the required claims of a JWT access
// token (S084-S087).
func checkRFC9068(t testing.TB, env *testenv.Env, v verifiedJWT, sub, clientID, scope string) {
	t.Helper()
	if typ, _ := v.Header.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		t.Errorf("typ = %q, want at+jwt (S085)", typ)
	}
	if v.Header.Algorithm == "none" || strings.HasPrefix(v.Header.Algorithm, "HS") {
		t.Errorf("alg = %s (S084)", v.Header.Algorithm)
	}
	for _, claim := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id"} {
		if _, ok := v.Claims[claim]; !ok {
			t.Errorf("claim %s missing (S086): %v", claim, v.Claims)
		}
	}
	want := map[string]any{"iss": env.URL, "sub": sub, "aud": env.URL, "client_id": clientID, "scope": scope}
	for k, w := range want {
		if v.Claims[k] != w {
			t.Errorf("claim %s = %v, want %v", k, v.Claims[k], w)
		}
	}
	exp, _ := v.Claims["exp"].(float64)
	iat, _ := v.Claims["iat"].(float64)
	if exp-iat != (15 * time.Minute).Seconds() {
		t.Errorf("exp - iat = %v, want the 15 min default", exp-iat)
	}
}

// TestClientCredentialsJWTWithXOAuth2 drives the client credentials grant
// with golang.org/x/oauth2/clientcredentials in both auth styles and checks
// the JWT against the published JWKS (RFC 6749 §4.4, RFC 9068, S028,
// S084-S087), with sub in the client namespace (A17). Issuing it writes no
// row (ARCHITECTURE: the hot path touches no table).
func TestClientCredentialsJWTWithXOAuth2(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.AddClient(t, store.Client{ID: "reports", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"}})
	for name, style := range authStyles {
		t.Run(name, func(t *testing.T) {
			before := f.countRows(t)
			cc := clientcredentials.Config{ClientID: "reports", ClientSecret: secret, TokenURL: f.URL + "/token",
				Scopes: []string{"read"}, AuthStyle: style}
			tok, err := cc.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tok.RefreshToken != "" {
				t.Error("client credentials response carries a refresh token (S028)")
			}
			if tok.Type() != "Bearer" || tok.Extra("scope") != "read" {
				t.Errorf("token_type %q, scope %v", tok.Type(), tok.Extra("scope"))
			}
			v := verifyJWT(t, f.Env, tok.AccessToken)
			checkRFC9068(t, f.Env, v, "client:reports", "reports", "read")
			if after := f.countRows(t); !maps.Equal(before, after) {
				t.Errorf("client credentials with a JWT wrote rows: %v → %v", before, after)
			}
			got := introspect(t, f.Env, "reports", secret, tok.AccessToken)
			if got["active"] != true || got["sub"] != "client:reports" || got["username"] != nil {
				t.Errorf("introspection = %v", got)
			}
		})
	}
}

// TestPasswordGrantWithXOAuth2 drives the password grant (RFC 6749 §4.3)
// with oauth2.Config in both auth styles, then refreshes through a
// TokenSource (RFC 6749 §6, rotation S133). The access token's sub is the
// user's id, never in the client namespace (S087, A17).
func TestPasswordGrantWithXOAuth2(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"read", "write"}})
	alice := f.AddUser(t, "alice", "correct horse", nil)
	for name, style := range authStyles {
		t.Run(name, func(t *testing.T) {
			conf := oauth2.Config{ClientID: "web", ClientSecret: secret, Scopes: []string{"read", "write"},
				Endpoint: oauth2.Endpoint{TokenURL: f.URL + "/token", AuthStyle: style}}
			ctx := context.Background()
			tok, err := conf.PasswordCredentialsToken(ctx, "alice", "correct horse")
			if err != nil {
				t.Fatal(err)
			}
			if tok.RefreshToken == "" || !strings.HasPrefix(tok.RefreshToken, "lk_rt_") {
				t.Fatalf("refresh token %q", tok.RefreshToken)
			}
			v := verifyJWT(t, f.Env, tok.AccessToken)
			checkRFC9068(t, f.Env, v, alice.ID, "web", "read write")
			if strings.HasPrefix(alice.ID, "client:") || strings.Contains(alice.ID, ":") {
				t.Fatalf("user id %q could be taken for a client subject (A17)", alice.ID)
			}

			// Refresh through a TokenSource, as x/oauth2 users do.
			expired := *tok
			expired.Expiry = time.Now().Add(-time.Minute)
			next, err := conf.TokenSource(ctx, &expired).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
				t.Fatal("refresh did not rotate the tokens (S133)")
			}
			checkRFC9068(t, f.Env, verifyJWT(t, f.Env, next.AccessToken), alice.ID, "web", "read write")
			got := introspect(t, f.Env, "web", secret, next.AccessToken)
			if got["active"] != true || got["username"] != "alice" || got["sub"] != alice.ID {
				t.Errorf("introspection = %v", got)
			}
			wantInactive(t, introspect(t, f.Env, "web", secret, tok.RefreshToken))
		})
	}
}

// TestOpaqueAccessTokensIntrospected checks reference tokens: a client with
// AccessTokenFormat "opaque" gets an lk_at_ value, stored by digest, that
// introspection describes fully (RFC 7662 §2.2, S078).
func TestOpaqueAccessTokensIntrospected(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.AddClient(t, store.Client{ID: "batch", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read", "write"}, AccessTokenFormat: "opaque"})
	before := f.countRows(t)
	cc := clientcredentials.Config{ClientID: "batch", ClientSecret: secret, TokenURL: f.URL + "/token", Scopes: []string{"write"}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "lk_at_") || strings.Count(tok.AccessToken, ".") != 0 {
		t.Fatalf("access token %q is not opaque", tok.AccessToken)
	}
	if after := f.countRows(t); after["access_tokens"] != before["access_tokens"]+1 {
		t.Errorf("access_tokens rows %d → %d, want one more", before["access_tokens"], after["access_tokens"])
	}
	got := introspect(t, f.Env, "batch", secret, tok.AccessToken)
	want := map[string]any{"active": true, "scope": "write", "client_id": "batch", "token_type": "Bearer",
		"sub": "client:batch", "iss": f.URL, "aud": []any{f.URL}}
	for k, w := range want {
		if gotJSON, wantJSON := mustJSON(t, got[k]), mustJSON(t, w); gotJSON != wantJSON {
			t.Errorf("%s = %s, want %s", k, gotJSON, wantJSON)
		}
	}
	for _, k := range []string{"exp", "iat", "jti"} {
		if got[k] == nil {
			t.Errorf("%s missing from %v", k, got)
		}
	}
	f.Clock.Advance(16 * time.Minute)
	wantInactive(t, introspect(t, f.Env, "batch", secret, tok.AccessToken))
}

// TestOmittedScopeGetsClientDefault checks S015: no scope parameter means
// the client's documented default, and the response names it.
func TestOmittedScopeGetsClientDefault(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read", "write", "admin"}, DefaultScopes: []string{"read"}})
	all := f.AddClient(t, store.Client{ID: "all", GrantTypes: []string{"client_credentials"}, Scopes: []string{"a", "b"}})
	for _, tc := range []struct{ id, secret, want string }{{"svc", secret, "read"}, {"all", all, "a b"}} {
		body := wantToken(t, post(t, f.Env, "/token", creds(tc.id, tc.secret, formOf("grant_type", "client_credentials"))))
		if body["scope"] != tc.want {
			t.Errorf("%s: scope = %v, want %q", tc.id, body["scope"], tc.want)
		}
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// formOf builds a form from name, value pairs.
func formOf(pairs ...string) url.Values {
	m := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = append(m[pairs[i]], pairs[i+1])
	}
	return m
}
