package main

// client and user: the admin commands against the store of a running
// server, checked at that server's token endpoint.

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/token"
)

var clientSecretRE = regexp.MustCompile(`(?m)^client_secret: (lk_cs_[A-Za-z0-9_-]+)$`)

// printedSecret returns the secret that client create or rotate-secret
// printed.
func printedSecret(t *testing.T, out string) string {
	t.Helper()
	m := clientSecretRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no \"client_secret: lk_cs_…\" line in:\n%s", out)
	}
	return m[1]
}

func wantOAuthError(t *testing.T, what string, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode {
		t.Fatalf("%s: %d %v, want %d with error %s", what, status, body, wantStatus, wantCode)
	}
}

// refusedSoon checks that the client credentials grant with id and secret
// answers 401 invalid_client within database.cache_ttl: a change made by
// the CLI shows in a running server once its cached copy of the client
// expires.
func refusedSoon(t *testing.T, base, id, secret, what string) {
	t.Helper()
	deadline := time.Now().Add(config.Default().Database.CacheTTL.D() + 500*time.Millisecond)
	for {
		status, body := clientCredentials(t, base, id, secret)
		if status == http.StatusUnauthorized && body["error"] == "invalid_client" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %v, want 401 invalid_client within database.cache_ttl", what, status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClientLifecycle(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	out := mustRun(t, nil, "", "client", "create", "--id", "reports", "--grant-types", "client_credentials", "--scopes", "read,write", "--storage", st)
	secret := printedSecret(t, out)
	srv := startServe(t, nil, "--listen", "127.0.0.1:0", "--storage", st)

	status, body := clientCredentials(t, srv.url, "reports", secret)
	wantToken(t, "the printed secret", status, body)

	// The secret is shown once: never again, nor its digest.
	hash := token.HashSecret(secret)
	for _, args := range [][]string{{"client", "list"}, {"client", "show", "reports"}} {
		got := mustRun(t, nil, "", append(args, "--storage", st)...)
		if !strings.Contains(got, "reports") {
			t.Errorf("latchkey %s does not mention the client:\n%s", strings.Join(args, " "), got)
		}
		for _, leak := range []string{secret, hash, "secret_hash", "lk_cs_"} {
			if strings.Contains(got, leak) {
				t.Errorf("latchkey %s prints %q:\n%s", strings.Join(args, " "), leak, got)
			}
		}
	}
	if show := decodeJSON(t, mustRun(t, nil, "", "client", "show", "reports", "--storage", st)); show["has_secret"] != true || show["source"] != "cli" {
		t.Errorf("client show: %v, want has_secret true and source cli", show)
	}

	rotated := printedSecret(t, mustRun(t, nil, "", "client", "rotate-secret", "reports", "--storage", st))
	if rotated == secret {
		t.Fatal("rotate-secret printed the old secret")
	}
	// The new secret works at once; the old one stops working within
	// database.cache_ttl (the server may have the client cached).
	status, body = clientCredentials(t, srv.url, "reports", rotated)
	wantToken(t, "the rotated secret", status, body)
	refusedSoon(t, srv.url, "reports", secret, "the old secret after rotate-secret")

	if out := mustRun(t, nil, "", "client", "delete", "reports", "--storage", st); !strings.Contains(out, "deleted client reports") {
		t.Errorf("client delete printed %q", out)
	}
	refusedSoon(t, srv.url, "reports", rotated, "a deleted client")
	if r := runCLI(t, nil, "", "client", "show", "reports", "--storage", st); r.err == nil || !strings.Contains(r.err.Error(), `no client "reports"`) {
		t.Errorf("client show of a deleted client: %v", r.err)
	}
}

// TestClientAuthMethod: a client created with --token-endpoint-auth-method
// may authenticate that way only (RFC 7591 §2), at a running server.
func TestClientAuthMethod(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	secret := printedSecret(t, mustRun(t, nil, "", "client", "create", "--id", "poster", "--grant-types", "client_credentials",
		"--scopes", "read", "--token-endpoint-auth-method", "client_secret_post", "--storage", st))
	if show := decodeJSON(t, mustRun(t, nil, "", "client", "show", "poster", "--storage", st)); show["token_endpoint_auth_method"] != "client_secret_post" {
		t.Errorf("client show: %v, want token_endpoint_auth_method client_secret_post", show)
	}
	srv := startServe(t, nil, "--listen", "127.0.0.1:0", "--storage", st)
	status, body := clientCredentials(t, srv.url, "poster", secret) // Basic
	wantOAuthError(t, "Basic for a client_secret_post client", status, body, http.StatusUnauthorized, "invalid_client")
	resp, err := http.PostForm(srv.url+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"poster"},
		"client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("client_secret_post: %d, want 200", resp.StatusCode)
	}
}

func TestClientCreateRefusesBadFlags(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	mustRun(t, nil, "", "client", "create", "--id", "taken", "--grant-types", "client_credentials", "--scopes", "read", "--storage", st)
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string // every one must appear in the error
		usage bool
	}{
		{"public client with client_credentials", []string{"--id", "x", "--public", "--grant-types", "client_credentials", "--scopes", "read"},
			[]string{"--grant-types", "public", "client_credentials"}, false},
		{"redirect URI that is not a URI", []string{"--id", "x", "--grant-types", "authorization_code", "--scopes", "read", "--redirect-uris", "not a uri"},
			[]string{"--redirect-uris", "absolute URI"}, false},
		{"unknown grant type", []string{"--id", "x", "--grant-types", "implicit", "--scopes", "read"},
			[]string{"--grant-types", `"implicit" is not a grant type`}, false},
		{"confidential client with none (S038)", []string{"--id", "x", "--grant-types", "client_credentials", "--scopes", "read",
			"--token-endpoint-auth-method", "none"}, []string{"--token-endpoint-auth-method", "must authenticate"}, false},
		{"unknown auth method", []string{"--id", "x", "--grant-types", "client_credentials", "--scopes", "read",
			"--token-endpoint-auth-method", "tls_client_auth"}, []string{"--token-endpoint-auth-method", "client_secret_basic"}, false},
		{"id taken", []string{"--id", "taken", "--grant-types", "client_credentials", "--scopes", "read"},
			[]string{`client "taken" exists already`}, false},
		{"no id", []string{"--grant-types", "client_credentials"}, []string{"--id"}, true},
		{"unknown flag", []string{"--id", "x", "--colour", "blue"}, []string{"-colour"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, "", append([]string{"client", "create", "--storage", st}, tc.args...)...)
			if r.err == nil {
				t.Fatalf("client create succeeded:\n%s", r.stdout)
			}
			for _, w := range tc.wants {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error %q does not mention %q", r.err, w)
				}
			}
			var ue usageError
			if errors.As(r.err, &ue) != tc.usage {
				t.Errorf("error %q: usage error = %v, want %v", r.err, !tc.usage, tc.usage)
			}
		})
	}
	if out := mustRun(t, nil, "", "client", "list", "--storage", st); strings.Contains(out, "\nx ") {
		t.Errorf("a refused client was stored:\n%s", out)
	}
}

func TestPublicClientHasNoSecret(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	out := mustRun(t, nil, "", "client", "create", "--id", "spa", "--public", "--grant-types", "authorization_code,refresh_token",
		"--scopes", "openid,read", "--redirect-uris", "http://127.0.0.1:9999/callback", "--storage", st)
	if strings.Contains(out, "client_secret") || !strings.Contains(out, "created client spa") {
		t.Errorf("client create --public printed:\n%s", out)
	}
	if show := decodeJSON(t, mustRun(t, nil, "", "client", "show", "spa", "--storage", st)); show["public"] != true || show["has_secret"] != false {
		t.Errorf("client show spa: %v, want public with no secret", show)
	}
	if r := runCLI(t, nil, "", "client", "rotate-secret", "spa", "--storage", st); r.err == nil || !strings.Contains(r.err.Error(), "public") {
		t.Errorf("rotate-secret of a public client: %v, want an error saying it is public", r.err)
	}
}

// passwordGrant asks base's token endpoint for a password grant token.
func passwordGrant(t *testing.T, base, clientID, secret, user, pw string) (int, map[string]any) {
	t.Helper()
	return postForm(t, base+"/token", clientID, secret, url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}, "scope": {"read"}})
}

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	secret := printedSecret(t, mustRun(t, nil, "", "client", "create", "--id", "app", "--grant-types", "password,refresh_token", "--scopes", "read", "--storage", st))
	out := mustRun(t, nil, "first password\n", "user", "create", "alice", "--password-stdin", "--claim", "name=Alice Liddell", "--storage", st)
	if !strings.Contains(out, "created user alice") {
		t.Errorf("user create printed %q", out)
	}
	srv := startServe(t, nil, "--listen", "127.0.0.1:0", "--storage", st)

	status, body := passwordGrant(t, srv.url, "app", secret, "alice", "first password")
	wantToken(t, "the password given on stdin", status, body)

	mustRun(t, nil, "second password\n", "user", "set-password", "alice", "--password-stdin", "--storage", st)
	status, body = passwordGrant(t, srv.url, "app", secret, "alice", "first password")
	wantOAuthError(t, "the old password after set-password", status, body, http.StatusBadRequest, "invalid_grant")
	status, body = passwordGrant(t, srv.url, "app", secret, "alice", "second password")
	wantToken(t, "the new password", status, body)

	list := mustRun(t, nil, "", "user", "list", "--storage", st)
	if !strings.Contains(list, "alice") || strings.Contains(list, "$argon2id") {
		t.Errorf("user list shows no alice, or a password hash:\n%s", list)
	}
	mustRun(t, nil, "", "user", "delete", "alice", "--storage", st)
	status, body = passwordGrant(t, srv.url, "app", secret, "alice", "second password")
	wantOAuthError(t, "a deleted user", status, body, http.StatusBadRequest, "invalid_grant")

	// Mistakes that must not reach the store.
	for _, tc := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"user", "create", "bob"}, "", "--password-stdin"}, // standard input is not a terminal
		{[]string{"user", "create", "bob", "--password-stdin"}, "", "no password on standard input"},
		{[]string{"user", "create", "bob", "--password-stdin", "--claim", "nonsense"}, "pw\n", "expected name=value"},
		{[]string{"user", "set-password", "nobody", "--password-stdin"}, "pw\n", `no user "nobody"`},
		{[]string{"user", "delete"}, "", "name the user"},
	} {
		r := runCLI(t, nil, tc.stdin, append(tc.args, "--storage", st)...)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("latchkey %s: %v, want an error containing %q", strings.Join(tc.args, " "), r.err, tc.want)
		}
	}
}
