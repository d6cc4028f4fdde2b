package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/testkit/jwstest"
)

// TestBenchJWTBearer: --grant jwt-bearer presents the token of
// --assertion-file with every request. An issuer with allow_token_reuse
// answers every one; a single-use issuer answers the first and refuses
// the rest as replays (invalid_grant), and bench counts them as failures,
// never as successes.
func TestBenchJWTBearer(t *testing.T) {
	t.Parallel()
	key := jwstest.NewKey(t, jose.ES256, "sa-1")
	env := testenv.New(t, testenv.Options{Configure: func(c *server.Config) {
		c.TrustedIssuers = []server.TrustedIssuer{
			{Name: "k8s", Issuer: "https://k8s.example", JWKS: jwstest.JWKS(t, key), AllowedClients: []string{"deployer"},
				Scopes: []string{"read"}, AllowTokenReuse: true},
			{Name: "ci", Issuer: "https://ci.example", JWKS: jwstest.JWKS(t, key), AllowedClients: []string{"deployer"},
				Scopes: []string{"read"}},
		}
	}})
	secret := env.AddClient(t, store.Client{ID: "deployer", GrantTypes: []string{protocol.GrantJWTBearer}, Scopes: []string{"read"}})
	vars := map[string]string{"LATCHKEY_ISSUER": env.URL, "LATCHKEY_CLIENT_ID": "deployer", "LATCHKEY_CLIENT_SECRET": secret}
	file := func(iss string) string {
		now := env.Clock.Now()
		tok := key.Sign(t, nil, map[string]any{"iss": iss, "sub": "system:serviceaccount:payments:api", "aud": env.URL,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text()})
		path := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	short := []string{"--grant", "jwt-bearer", "--requests", "20", "--warmup", "0", "--concurrency", "2"}

	s, r := bench(t, vars, append(short, "--assertion-file", file("https://k8s.example"))...)
	if r.err != nil || s.OK != 20 || s.Failures != 0 || s.Grant != "jwt-bearer" {
		t.Fatalf("reusable token: exit %d (%v): %+v; want 20 ok\nstderr:\n%s", exitStatus(r.err), r.err, s, r.stderr)
	}
	s, r = bench(t, vars, append(short, "--assertion-file", file("https://ci.example"))...)
	if r.err != nil || s.OK != 1 || s.Failures != 19 || len(s.Errors) != 1 || s.Errors[0].Error != "invalid_grant" {
		t.Fatalf("single-use token: exit %d (%v): %+v; want 1 ok and 19 invalid_grant", exitStatus(r.err), r.err, s)
	}

	for _, tc := range []struct{ args []string }{
		{[]string{"--grant", "jwt-bearer"}},
		{[]string{"--assertion-file", file("https://k8s.example")}},
		{[]string{"--grant", "jwt-bearer", "--assertion-file", filepath.Join(t.TempDir(), "missing")}},
	} {
		r := runCLI(t, vars, "", append([]string{"bench"}, tc.args...)...)
		if exitStatus(r.err) != 2 {
			t.Errorf("bench %v: exit %d (%v), want 2", tc.args, exitStatus(r.err), r.err)
		}
	}
}
