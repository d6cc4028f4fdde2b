package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// TestA9NoSecretsInLogs runs every grant, introspection, revocation and
// the usual failures, collecting every secret value that crossed the wire
// (client secrets, passwords, codes, verifiers, access, refresh and ID
// tokens, wrong guesses), and checks that none of them, nor the random
// part of an opaque one, appears in the log (A9, S128).
func TestA9NoSecretsInLogs(t *testing.T) {
	c := newCodeFixture(t)
	secrets := []string{c.app, "wonderland"}
	keep := func(body map[string]any) {
		for _, k := range []string{"access_token", "refresh_token", "id_token"} {
			if s, ok := body[k].(string); ok {
				secrets = append(secrets, s)
			}
		}
	}
	svc := c.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	ref := c.AddClient(t, store.Client{ID: "ref", GrantTypes: []string{"client_credentials"}, AccessTokenFormat: "opaque"})
	pw := c.AddClient(t, store.Client{ID: "pw", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"openid", "read"}})
	c.AddClientWithSecret(t, store.Client{ID: "cfg", GrantTypes: []string{"client_credentials"}}, "configured-secret-value")
	secrets = append(secrets, svc, ref, pw, "configured-secret-value")

	// Client credentials: JWT, opaque, configured secret.
	keep(wantToken(t, post(t, c.Env, "/token", formOf("grant_type", "client_credentials"), basic("svc", svc))))
	keep(wantToken(t, post(t, c.Env, "/token", creds("ref", ref, formOf("grant_type", "client_credentials")))))
	keep(wantToken(t, post(t, c.Env, "/token", formOf("grant_type", "client_credentials"), basic("cfg", "configured-secret-value"))))
	// Password, then refresh.
	pwTok := wantToken(t, post(t, c.Env, "/token", formOf("grant_type", "password", "username", "alice",
		"password", "wonderland", "scope", "openid read"), basic("pw", pw)))
	keep(pwTok)
	next := wantToken(t, post(t, c.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", pwTok["refresh_token"].(string)), basic("pw", pw)))
	keep(next)
	// Authorization code, then a replay (which logs a warning).
	code, verifier := c.issueCode(t, "app", true)
	secrets = append(secrets, code, verifier)
	keep(wantToken(t, c.redeem(t, "app", code, verifier)))
	c.redeem(t, "app", code, verifier)
	// Refresh-token reuse (logs a warning).
	post(t, c.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", pwTok["refresh_token"].(string)), basic("pw", pw))
	// Failures.
	for _, guess := range []string{"wrong-secret-guess-1", "wrong-password-guess-2"} {
		secrets = append(secrets, guess)
		post(t, c.Env, "/token", formOf("grant_type", "client_credentials"), basic("svc", guess))
		post(t, c.Env, "/token", formOf("grant_type", "password", "username", "alice", "password", guess), basic("pw", pw))
		post(t, c.Env, "/token", creds("cfg", guess, formOf("grant_type", "client_credentials")))
	}
	post(t, c.Env, "/token?client_secret="+svc, formOf("grant_type", "client_credentials", "client_id", "svc"))
	// Introspection and revocation of everything kept.
	for _, s := range secrets {
		if strings.HasPrefix(s, "lk_") || strings.Count(s, ".") == 2 {
			post(t, c.Env, "/introspect", formOf("token", s), basic("svc", svc))
			post(t, c.Env, "/revoke", formOf("token", s), basic("svc", svc))
		}
	}
	if r := send(t, c.Env, http.MethodGet, "/healthz", "", ""); r.Status != http.StatusOK {
		t.Fatal("server unhealthy")
	}

	logs := c.Logs.String()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, "password check failed") {
		t.Fatal("the log did not capture the run")
	}
	for _, s := range secrets {
		for _, part := range leakForms(s) {
			if strings.Contains(logs, part) {
				t.Errorf("the log contains a secret (%.12s…) (A9, S128)", part)
			}
		}
	}
}

// leakForms are the pieces of a secret that must not be logged: the value,
// the random part after an lk_ prefix, and each JWT segment but the
// header (a JWT's header is public and shared by many tokens).
func leakForms(s string) []string {
	out := []string{s}
	if strings.HasPrefix(s, "lk_") && len(s) > 6 {
		out = append(out, s[6:])
	}
	if parts := strings.Split(s, "."); len(parts) == 3 {
		out = append(out, parts[1], parts[2])
	}
	return out
}
