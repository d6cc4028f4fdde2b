package main

// latchkey token against a Latchkey started with testenv.

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// tokenEnv is a Latchkey with a client per grant and one user.
type tokenEnv struct {
	*testenv.Env
	svcSecret, appSecret string
	user, password       string
}

func newTokenEnv(t *testing.T) *tokenEnv {
	t.Helper()
	env := testenv.New(t, testenv.Options{})
	te := &tokenEnv{Env: env, user: "alice", password: "correct horse battery staple"}
	te.svcSecret = env.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read", "write"}, Introspection: true})
	te.appSecret = env.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"openid", "read"}})
	env.AddUser(t, te.user, te.password, map[string]any{"name": "Alice Liddell"})
	return te
}

// token runs "latchkey token SUB --issuer URL args..." in-process.
func (te *tokenEnv) token(t *testing.T, vars map[string]string, sub string, args ...string) cliResult {
	t.Helper()
	return runCLI(t, vars, "", append([]string{"token", sub, "--issuer", te.URL}, args...)...)
}

// mustToken is token that fails the test when the command fails, and
// returns the JSON it printed.
func (te *tokenEnv) mustToken(t *testing.T, vars map[string]string, sub string, args ...string) map[string]any {
	t.Helper()
	r := te.token(t, vars, sub, args...)
	if r.err != nil {
		t.Fatalf("latchkey token %s %s: %v\nstderr:\n%s", sub, strings.Join(args, " "), r.err, r.stderr)
	}
	return decodeJSON(t, r.stdout)
}

func TestTokenClientCredentials(t *testing.T) {
	t.Parallel()
	te := newTokenEnv(t)
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"basic, secret flag", nil, []string{"--client-id", "svc", "--client-secret", te.svcSecret, "--auth-method", "basic"}},
		{"post, secret flag", nil, []string{"--client-id", "svc", "--client-secret", te.svcSecret, "--auth-method", "post"}},
		{"LATCHKEY_CLIENT_SECRET", map[string]string{"LATCHKEY_CLIENT_SECRET": te.svcSecret}, []string{"--client-id", "svc"}},
		{"LATCHKEY_CLIENT_ID and LATCHKEY_ISSUER", map[string]string{"LATCHKEY_CLIENT_ID": "svc", "LATCHKEY_CLIENT_SECRET": te.svcSecret, "LATCHKEY_ISSUER": te.URL}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := te.mustToken(t, tc.vars, "client-credentials", append(tc.args, "--scope", "read write")...)
			if got["access_token"] == nil || got["token_type"] != "Bearer" || got["scope"] != "read write" {
				t.Errorf("token response %v, want a Bearer access_token with scope \"read write\"", got)
			}
		})
	}
	r := te.token(t, map[string]string{"LATCHKEY_CLIENT_SECRET": te.svcSecret}, "client-credentials", "--client-id", "svc", "-o", "token")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if tok := strings.TrimSuffix(r.stdout, "\n"); strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " {\n") {
		t.Errorf("-o token printed %q, want one bare JWT on one line", r.stdout)
	}
}

func TestTokenPasswordRefreshIntrospectRevoke(t *testing.T) {
	t.Parallel()
	te := newTokenEnv(t)
	app := []string{"--client-id", "app", "--client-secret", te.appSecret}
	svc := []string{"--client-id", "svc", "--client-secret", te.svcSecret}

	got := te.mustToken(t, nil, "password", append(app, "--username", te.user, "--password", te.password, "--scope", "openid read")...)
	rt, _ := got["refresh_token"].(string)
	if got["access_token"] == nil || rt == "" || got["id_token"] == nil {
		t.Fatalf("password grant: %v, want access, refresh and ID tokens", got)
	}

	refreshed := te.mustToken(t, nil, "refresh", append(app, rt)...)
	newRT, _ := refreshed["refresh_token"].(string)
	at, _ := refreshed["access_token"].(string)
	if newRT == "" || newRT == rt || at == "" || at == got["access_token"] {
		t.Fatalf("refresh: %v, want a new access token and a rotated refresh token", refreshed)
	}

	// Flags may come after the token too.
	if info := te.mustToken(t, nil, "introspect", append([]string{at}, svc...)...); info["active"] != true || info["client_id"] != "app" {
		t.Fatalf("introspect: %v, want active:true for client app", info)
	}
	r := te.token(t, nil, "revoke", append(app, "--hint", "refresh_token", newRT)...)
	if r.err != nil || !strings.Contains(r.stderr, "revoked") {
		t.Fatalf("revoke: %v, stderr %q", r.err, r.stderr)
	}
	if info := te.mustToken(t, nil, "introspect", append(svc, at)...); info["active"] != false {
		t.Fatalf("introspect after revoking the grant's refresh token: %v, want active:false (RFC 7009 §2.1)", info)
	}
	// The password may also come from standard input.
	r = runCLI(t, nil, te.password+"\n", append([]string{"token", "password", "--issuer", te.URL, "--username", te.user, "--password-stdin"}, app...)...)
	if r.err != nil || decodeJSON(t, r.stdout)["access_token"] == nil {
		t.Fatalf("password from standard input: %v\n%s", r.err, r.stdout)
	}
}

// TestTokenTraceMasksSecrets: --trace shows each exchange as a numbered
// step on stderr, but never a whole secret, password or token.
func TestTokenTraceMasksSecrets(t *testing.T) {
	t.Parallel()
	te := newTokenEnv(t)
	app := []string{"--client-id", "app", "--client-secret", te.appSecret, "--trace"}
	r := te.token(t, nil, "password", append(app, "--username", te.user, "--password", te.password, "--scope", "openid read")...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := decodeJSON(t, r.stdout)
	rt := got["refresh_token"].(string)
	r2 := te.token(t, nil, "refresh", append(app, "--auth-method", "post", rt)...)
	if r2.err != nil {
		t.Fatal(r2.err)
	}
	refreshed := decodeJSON(t, r2.stdout)
	for _, out := range []string{r.stderr, r2.stderr} {
		for _, step := range []string{"── Step 1: ", "── Step 2: ", "-> POST " + te.URL + "/token"} {
			if !strings.Contains(out, step) {
				t.Errorf("the trace lacks %q:\n%s", step, out)
			}
		}
	}
	trace := r.stderr + r2.stderr
	secrets := map[string]string{"client secret": te.appSecret, "password": te.password,
		"access token": got["access_token"].(string), "refresh token": rt, "ID token": got["id_token"].(string),
		"new access token": refreshed["access_token"].(string), "new refresh token": refreshed["refresh_token"].(string)}
	for name, s := range secrets {
		if strings.Contains(trace, s) {
			t.Errorf("the trace shows the whole %s", name)
		}
	}
	if t.Failed() {
		t.Logf("trace:\n%s", trace)
	}
}

func TestTokenServerErrors(t *testing.T) {
	t.Parallel()
	te := newTokenEnv(t)
	for _, tc := range []struct {
		sub  string
		args []string
		want []string
	}{
		{"client-credentials", []string{"--client-id", "svc", "--client-secret", "lk_cs_wrong"}, []string{"invalid_client", "HTTP 401"}},
		{"client-credentials", []string{"--client-id", "svc", "--client-secret", te.svcSecret, "--scope", "admin"}, []string{"invalid_scope"}},
		{"password", []string{"--client-id", "app", "--client-secret", te.appSecret, "--username", te.user, "--password", "wrong"}, []string{"invalid_grant"}},
		{"refresh", []string{"--client-id", "app", "--client-secret", te.appSecret, "lk_rt_nonsense"}, []string{"invalid_grant"}},
		{"password", []string{"--client-id", "svc", "--client-secret", te.svcSecret, "--username", te.user, "--password", te.password}, []string{"unauthorized_client"}},
	} {
		r := te.token(t, nil, tc.sub, tc.args...)
		var ue usageError
		if r.err == nil || errors.As(r.err, &ue) {
			t.Errorf("token %s %v: %v, want a failure (exit status 1)", tc.sub, tc.args, r.err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.err.Error(), w) {
				t.Errorf("token %s: error %q does not show %q", tc.sub, r.err, w)
			}
		}
	}

	// The same through the real binary: the code on stderr, status 1.
	cmd := exec.Command(binary.Path(t), "token", "client-credentials", "--issuer", te.URL, "--client-id", "svc")
	cmd.Env = []string{"LATCHKEY_CLIENT_SECRET=lk_cs_wrong"}
	out, err := cmd.CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "latchkey: invalid_client") {
		t.Errorf("latchkey token with a wrong secret: exit %d, output %q; want 1 and \"latchkey: invalid_client\"", exitCode(err), out)
	}

	for _, args := range [][]string{
		{"client-credentials"}, // no --client-id
		{"client-credentials", "--client-id", "svc", "-o", "yaml"},
		{"password", "--client-id", "app"}, // no --username
		{"refresh", "--client-id", "app"},  // no token
		{"revoke", "--client-id", "app"},
		{"teleport", "--client-id", "app"},
		{"introspect", "--client-id", "svc", "a-token", "another-token"},
		{"introspect", "a-token", "--client-id", "svc", "--nonsense"},
	} {
		r := te.token(t, nil, args[0], args[1:]...)
		var ue usageError
		if !errors.As(r.err, &ue) {
			t.Errorf("token %v: %v, want a usage error", args, r.err)
		}
	}
}

// TestTokenDiscoveryRefusesAnotherIssuer: a metadata document naming
// another issuer is not used (RFC 8414 §3.3), so no secret is sent to the
// endpoints it lists.
func TestTokenDiscoveryRefusesAnotherIssuer(t *testing.T) {
	t.Parallel()
	var tokenCalls atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": "https://honest.example", "token_endpoint": srv.URL + "/token"})
		case "/token":
			tokenCalls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"stolen","token_type":"Bearer"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	r := runCLI(t, nil, "", "token", "client-credentials", "--issuer", srv.URL, "--client-id", "svc", "--client-secret", "lk_cs_precious")
	if r.err == nil || !strings.Contains(r.err.Error(), `"https://honest.example"`) || !strings.Contains(r.err.Error(), "RFC 8414") {
		t.Fatalf("token against a lying metadata document: %v, want a refusal naming the other issuer", r.err)
	}
	if n := tokenCalls.Load(); n != 0 {
		t.Errorf("the client called the lying token endpoint %d times", n)
	}
}
