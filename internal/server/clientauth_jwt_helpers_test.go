package server_test

import (
	"crypto/rand"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit/jwstest"
)

// pkKey is a private_key_jwt client's signing key and its public JWK.
type pkKey struct{ jwstest.Key }

// newPKKey generates a key for alg (ES256, PS256, RS256 or EdDSA) named kid.
func newPKKey(t testing.TB, alg jose.SignatureAlgorithm, kid string) pkKey {
	t.Helper()
	return pkKey{jwstest.NewKey(t, alg, kid)}
}

// pkJWKS is the JWK Set of the keys' public halves, as a client registers it.
func pkJWKS(t testing.TB, keys ...pkKey) string {
	t.Helper()
	ks := make([]jwstest.Key, len(keys))
	for i, k := range keys {
		ks[i] = k.Key
	}
	return jwstest.JWKS(t, ks...)
}

// sign signs claims with k under its alg and kid, plus extra header members.
func (k pkKey) sign(t testing.TB, claims map[string]any, header map[jose.HeaderKey]any) string {
	t.Helper()
	return k.Sign(t, header, claims)
}

// pkSignWith signs claims with any go-jose signing key (an HMAC secret
// included), naming kid.
func pkSignWith(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any, header map[jose.HeaderKey]any) string {
	t.Helper()
	return jwstest.Sign(t, alg, key, kid, header, claims)
}

// pkUnsigned builds a JWS-shaped string from any header and claims, for
// what no signer produces (alg none).
func pkUnsigned(header, claims map[string]any, sig string) string {
	return jwstest.Unsigned(header, claims, sig)
}

func pkB64(b []byte) string { return jwstest.B64(b) }

// pkClaims are valid claims (RFC 7523 §3) of client for env's issuer at
// the server's clock, with a fresh jti and a two-minute lifetime.
func pkClaims(env *testenv.Env, client string) map[string]any {
	now := env.Clock.Now()
	return map[string]any{
		"iss": client, "sub": client, "aud": env.Config.Issuer,
		"exp": now.Add(2 * time.Minute).Unix(), "iat": now.Unix(),
		"jti": rand.Text(),
	}
}

// pkWith returns a copy of claims with name set to v, or removed when v is nil.
func pkWith(claims map[string]any, name string, v any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, x := range claims {
		out[k] = x
	}
	if v == nil {
		delete(out, name)
	} else {
		out[name] = v
	}
	return out
}

// pkAssertion adds a client assertion (RFC 7521 §4.2) to form.
func pkAssertion(form url.Values, jwt string) url.Values {
	form.Set("client_assertion_type", protocol.AssertionTypeJWT)
	form.Set("client_assertion", jwt)
	return form
}

// pkClient registers a private_key_jwt client of the client credentials
// grant with an inline JWK Set of keys and returns it.
func pkClient(t testing.TB, env *testenv.Env, id string, keys ...pkKey) store.Client {
	t.Helper()
	c := store.Client{ID: id, TokenEndpointAuthMethod: string(protocol.AuthPrivateKeyJWT),
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, JWKS: pkJWKS(t, keys...)}
	if secret := env.AddClient(t, c); secret != "" {
		t.Fatalf("AddClient gave the private_key_jwt client %s a secret", id)
	}
	return c
}

// ccWithAssertion is a client credentials request authenticated by jwt.
func ccWithAssertion(jwt string) url.Values {
	return pkAssertion(formOf("grant_type", "client_credentials"), jwt)
}

// wantNotLogged checks that no assertion, nor any of its signed parts,
// appears in the server's log (S128: credentials never logged).
func wantNotLogged(t testing.TB, env *testenv.Env, assertions ...string) {
	t.Helper()
	logs := env.Logs.String()
	for _, a := range assertions {
		parts := strings.Split(a, ".")
		for i, p := range parts {
			if i > 0 && len(p) >= 16 && strings.Contains(logs, p) {
				t.Errorf("the server log contains part %d of an assertion: %.40s…", i, p)
			}
		}
		if strings.Contains(logs, a) {
			t.Errorf("the server log contains an assertion: %.40s…", a)
		}
	}
}

// pkRefusals are the reasons of the "client assertion refused" log lines
// so far, oldest first: what the operator learns, and what shows that a
// test's assertion failed for the reason it was built for.
func pkRefusals(t testing.TB, env *testenv.Env) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(env.Logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["msg"] == "client assertion refused" {
			r, _ := rec["reason"].(string)
			out = append(out, r)
		}
	}
	return out
}

// wantRefusedFor checks that the latest refusal's reason contains want.
func wantRefusedFor(t testing.TB, env *testenv.Env, want string) {
	t.Helper()
	r := pkRefusals(t, env)
	if len(r) == 0 || !strings.Contains(r[len(r)-1], want) {
		t.Errorf("refusals %q, want the latest to mention %q", r, want)
	}
}
