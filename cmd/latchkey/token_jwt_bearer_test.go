package main

// latchkey token jwt-bearer against a Latchkey that trusts a workload
// issuer (RFC 7523 §2.1).

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit/jwstest"
)

func TestTokenJWTBearerCLI(t *testing.T) {
	t.Parallel()
	key := jwstest.NewKey(t, jose.ES256, "sa-1")
	env := testenv.New(t, testenv.Options{Configure: func(c *server.Config) {
		c.TrustedIssuers = []server.TrustedIssuer{{Name: "k8s", Issuer: "https://k8s.example", JWKS: jwstest.JWKS(t, key),
			AllowedClients: []string{"deployer"}, Scopes: []string{"deploy"}}}
	}})
	secret := env.AddClient(t, store.Client{ID: "deployer", GrantTypes: []string{protocol.GrantJWTBearer}, Scopes: []string{"deploy", "admin"},
		Introspection: true})
	vars := map[string]string{"LATCHKEY_ISSUER": env.URL, "LATCHKEY_CLIENT_ID": "deployer", "LATCHKEY_CLIENT_SECRET": secret}
	assertion := func() string {
		now := env.Clock.Now()
		return key.Sign(t, nil, map[string]any{"iss": "https://k8s.example", "sub": "system:serviceaccount:payments:api", "aud": env.URL,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text()})
	}
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(assertion()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, vars, "", "token", "jwt-bearer", "--assertion-file", file, "--scope", "deploy")
	if r.err != nil {
		t.Fatalf("latchkey token jwt-bearer: %v\nstderr:\n%s", r.err, r.stderr)
	}
	got := decodeJSON(t, r.stdout)
	if got["token_type"] != "Bearer" || got["scope"] != "deploy" || got["refresh_token"] != nil {
		t.Fatalf("token response %v, want a Bearer token with scope deploy and no refresh token (RFC 7523 §3.1)", got)
	}
	in := decodeJSON(t, mustRun(t, vars, "", "token", "introspect", got["access_token"].(string)))
	if in["active"] != true || in["sub"] != "k8s:system:serviceaccount:payments:api" || in["username"] != nil {
		t.Errorf("introspection %v, want active, the namespaced workload as sub, no username", in)
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"replayed file", "", []string{"--assertion-file", file}, protocol.ErrInvalidGrant},
		{"fresh token on standard input", assertion(), []string{"--assertion-file", "-"}, ""},
		{"scope beyond the issuer's", assertion(), []string{"--assertion-file", "-", "--scope", "admin"}, protocol.ErrInvalidScope},
		{"no assertion", "", nil, "--assertion-file is required"},
		{"missing file", "", []string{"--assertion-file", filepath.Join(t.TempDir(), "none")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, vars, tc.stdin, append([]string{"token", "jwt-bearer"}, tc.args...)...)
			switch {
			case tc.want == "" && r.err != nil:
				t.Errorf("%v\nstderr:\n%s", r.err, r.stderr)
			case tc.want != "" && (r.err == nil || !strings.Contains(r.err.Error(), tc.want)):
				t.Errorf("got %v, want an error with %q", r.err, tc.want)
			}
		})
	}
	if r := runCLI(t, vars, "", "token", "client-credentials", "--assertion-file", file); r.err == nil ||
		!strings.Contains(r.err.Error(), "for latchkey token jwt-bearer only") {
		t.Errorf("--assertion-file with client-credentials: %v, want it refused", r.err)
	}
}
