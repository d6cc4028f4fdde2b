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
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// The issuers of the JWT bearer tests: a Kubernetes cluster (keys at a
// jwks_uri, served by a loopback TLS host the test's fetcher trusts) and
// GitHub Actions (keys inline).
const (
	k8sIss    = "https://kubernetes.default.svc.cluster.local"
	k8sSA     = "system:serviceaccount:payments:api"
	ghIss     = "https://token.actions.githubusercontent.com"
	ghSubject = "repo:octo-org/payments:ref:refs/heads/main"
)

// bearerWorld is a running Latchkey trusting both issuers, and the
// client "deployer" allowed to present their tokens.
type bearerWorld struct {
	*fixture
	k8sKey, ghKey pkKey
	host          *jwksHost
	secret        string // the deployer's client secret
}

// newBearerWorld starts the world; edit, when set, changes the trusted
// issuers (k8s first, github second) before the server starts.
func newBearerWorld(t testing.TB, edit func([]server.TrustedIssuer)) *bearerWorld {
	t.Helper()
	w := &bearerWorld{k8sKey: newPKKey(t, jose.RS256, "sa-1"), ghKey: newPKKey(t, jose.RS256, "gh-1")}
	w.host = newJWKSHost(t, pkJWKS(t, w.k8sKey), false, nil)
	w.fixture = newFixture(t, func(c *server.Config) {
		generous(c)
		c.JWKSFetcher = trustingFetcher(w.host, safefetch.Options{})
		c.TrustedIssuers = []server.TrustedIssuer{
			{Name: "k8s", Issuer: k8sIss, JWKSURI: w.host.URL + "/jwks", AllowedClients: []string{"deployer"},
				Scopes: []string{"payments.read", "payments.write"}},
			{Name: "github", Issuer: ghIss, JWKS: pkJWKS(t, w.ghKey), AllowedClients: []string{"deployer"},
				Scopes: []string{"deploy"}, Audience: "https://github.com/octo-org",
				AllowedSubjects: []string{"repo:octo-org/payments:ref:refs/heads/*", "repo:octo-org/payments:environment:prod"}},
		}
		if edit != nil {
			edit(c.TrustedIssuers)
		}
	})
	w.secret = w.AddClient(t, bearerClient("deployer"))
	return w
}

// bearerClient may use the JWT bearer grant, with more scopes than
// either issuer allows.
func bearerClient(id string) store.Client {
	return store.Client{ID: id, GrantTypes: []string{protocol.GrantJWTBearer},
		Scopes: []string{"payments.read", "payments.write", "deploy", "admin"}, Resources: []string{"https://payments.example.com"}}
}

// saClaims are those of a projected service account token: issued now,
// for an hour, with a jti (Kubernetes 1.29 and later).
func saClaims(env *testenv.Env) map[string]any {
	now := env.Clock.Now()
	return map[string]any{
		"iss": k8sIss, "sub": k8sSA, "aud": []string{env.URL},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text(),
		"kubernetes.io": map[string]any{"namespace": "payments", "serviceaccount": map[string]any{"name": "api"}},
	}
}

// ghClaims are those of a GitHub Actions OIDC token of a push to main.
func ghClaims(env *testenv.Env) map[string]any {
	now := env.Clock.Now()
	return map[string]any{
		"iss": ghIss, "sub": ghSubject, "aud": "https://github.com/octo-org",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": rand.Text(),
		"repository": "octo-org/payments", "ref": "refs/heads/main",
	}
}

// bearerForm is a JWT bearer grant request (RFC 7523 §2.1) with extra
// name, value pairs.
func bearerForm(assertion string, kv ...string) url.Values {
	f := formOf(append([]string{"grant_type", protocol.GrantJWTBearer, "assertion", assertion}, kv...)...)
	return f
}

// exchange posts a JWT bearer grant as the deployer.
func (w *bearerWorld) exchange(t testing.TB, assertion string, kv ...string) result {
	t.Helper()
	return post(t, w.Env, "/token", bearerForm(assertion, kv...), basic("deployer", w.secret))
}

// trustRefusals are the reasons (and causes) of "trusted issuer token
// refused" log lines, oldest first.
func trustRefusals(t testing.TB, env *testenv.Env) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(env.Logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["msg"] == "trusted issuer token refused" {
			r, _ := rec["reason"].(string)
			c, _ := rec["cause"].(string)
			out = append(out, r+" ("+c+")")
		}
	}
	return out
}

// wantTrustRefusedFor checks that the latest refusal's reason contains want.
func wantTrustRefusedFor(t testing.TB, env *testenv.Env, want string) {
	t.Helper()
	r := trustRefusals(t, env)
	if len(r) == 0 || !strings.Contains(r[len(r)-1], want) {
		t.Errorf("refusals %q, want the latest to mention %q", r, want)
	}
}
