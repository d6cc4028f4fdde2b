package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

// The client-authentication seam: a method is one ClientAuthenticator,
// chosen by the client's registered token_endpoint_auth_method. This test
// registers a method the server has never heard of, from this file alone,
// and uses it end to end.

const (
	hmacMethod        protocol.AuthMethod = "test_shared_hmac"
	hmacAssertionType                     = "urn:latchkey:test:hmac"
)

// hmacAuth accepts a client assertion that is HMAC-SHA256(key, client_id),
// base64url: a stand-in for private_key_jwt's signed assertion.
type hmacAuth struct{ key []byte }

func (hmacAuth) Method() protocol.AuthMethod { return hmacMethod }

func (a hmacAuth) Authenticate(_ context.Context, c store.Client, creds protocol.Credentials) (bool, error) {
	if creds.AssertionType != hmacAssertionType {
		return false, nil
	}
	got, err := base64.RawURLEncoding.DecodeString(creds.Assertion)
	if err != nil {
		return false, nil
	}
	return hmac.Equal(got, a.mac(c.ID)), nil
}

func (a hmacAuth) mac(id string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(id))
	return m.Sum(nil)
}

func (a hmacAuth) assertion(id string) string { return base64.RawURLEncoding.EncodeToString(a.mac(id)) }

func TestClientAuthenticatorSeam(t *testing.T) {
	auth := hmacAuth{key: []byte("a key only this test and the client know")}
	f := newFixture(t, func(c *server.Config) { c.ClientAuthenticators = []server.ClientAuthenticator{auth} })
	// A confidential client without a secret: it authenticates with the new method.
	if err := f.Store.CreateClient(t.Context(), store.Client{ID: "svc", Name: "svc", TokenEndpointAuthMethod: string(hmacMethod),
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, Introspection: true, Source: "cli",
		CreatedAt: f.Clock.Now(), UpdatedAt: f.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	other := f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	withAssertion := func(id, assertion string) map[string]string {
		return map[string]string{"grant_type": "client_credentials", "client_id": id,
			"client_assertion_type": hmacAssertionType, "client_assertion": assertion}
	}
	form := func(m map[string]string) (out []string) {
		for k, v := range m {
			out = append(out, k, v)
		}
		return out
	}

	// The metadata advertises it (RFC 8414 §2).
	meta := send(t, f.Env, http.MethodGet, "/.well-known/oauth-authorization-server", "", "").JSON(t)
	for _, member := range []string{"token_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"} {
		if list, _ := meta[member].([]any); !slices.Contains(list, any(string(hmacMethod))) {
			t.Errorf("%s = %v, want it to list %s", member, list, hmacMethod)
		}
	}

	// The right assertion gets a token; the token introspects as svc's.
	tok := wantToken(t, post(t, f.Env, "/token", formOf(form(withAssertion("svc", auth.assertion("svc")))...)))
	in := post(t, f.Env, "/introspect", formOf(form(map[string]string{"token": tok["access_token"].(string), "client_id": "svc",
		"client_assertion_type": hmacAssertionType, "client_assertion": auth.assertion("svc")})...)).JSON(t)
	if in["active"] != true || in["client_id"] != "svc" {
		t.Errorf("introspection with the new method: %v", in)
	}

	// Everything else is invalid_client, 401 with the challenge (S033).
	bad := map[string]result{
		"another client's assertion": post(t, f.Env, "/token", formOf(form(withAssertion("svc", auth.assertion("app")))...)),
		"a forged assertion":         post(t, f.Env, "/token", formOf(form(withAssertion("svc", "AAAA"))...)),
		"a secret instead (S002)":    post(t, f.Env, "/token", formOf("grant_type", "client_credentials", "client_id", "svc", "client_secret", other)),
		"no credentials (S014)":      post(t, f.Env, "/token", formOf("grant_type", "client_credentials", "client_id", "svc")),
		"an assertion for a client registered with secrets": post(t, f.Env, "/token",
			formOf(form(withAssertion("app", auth.assertion("app")))...)),
	}
	for name, r := range bad {
		t.Run(name, func(t *testing.T) { wantOAuthError(t, r, http.StatusUnauthorized, protocol.ErrInvalidClient) })
	}
	// A secret client still authenticates as before beside it.
	wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "client_credentials"), basic("app", other)))
}

// TestClientAuthenticatorMissing: a client registered with a method the
// server lacks fails closed, as invalid_client, and the server says why
// in its log.
func TestClientAuthenticatorMissing(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.Store.CreateClient(t.Context(), store.Client{ID: "svc", Name: "svc", TokenEndpointAuthMethod: string(hmacMethod),
		GrantTypes: []string{"client_credentials"}, Source: "cli", CreatedAt: f.Clock.Now(), UpdatedAt: f.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	r := post(t, f.Env, "/token", formOf("grant_type", "client_credentials", "client_id", "svc",
		"client_assertion_type", hmacAssertionType, "client_assertion", "AAAA"))
	wantOAuthError(t, r, http.StatusUnauthorized, protocol.ErrInvalidClient)
	if logs := f.Logs.String(); !strings.Contains(logs, "authentication method the server lacks") || !strings.Contains(logs, string(hmacMethod)) {
		t.Errorf("the log does not say what is missing:\n%s", logs)
	}
}
