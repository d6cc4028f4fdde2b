package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRemoteCLIMatchesLocal runs client, user and keys commands against
// a running server's admin API (--server) and compares what they print
// with the local commands on the same store.
func TestRemoteCLIMatchesLocal(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	srv := startServe(t, map[string]string{"LATCHKEY_ADMIN_ENABLED": "true"}, "--listen", "127.0.0.1:0", "--storage", st)
	out := mustRun(t, nil, "", "client", "create", "--id", "ops", "--grant-types", "client_credentials", "--scopes", "latchkey:admin", "--storage", st)
	vars := map[string]string{"LATCHKEY_CLIENT_SECRET": printedSecret(t, out), "LATCHKEY_CLIENT_ID": "ops"}
	remote := func(args ...string) string {
		t.Helper()
		return mustRun(t, vars, "", append(args, "--server", srv.url)...)
	}
	local := func(args ...string) string {
		t.Helper()
		return mustRun(t, nil, "", append(args, "--storage", st)...)
	}

	out = remote("client", "create", "--id", "reports", "--grant-types", "client_credentials", "--scopes", "read,write")
	if !strings.HasPrefix(out, "created client reports\nclient_secret: lk_cs_") {
		t.Fatalf("remote client create printed:\n%s", out)
	}
	remote("client", "create", "--id", "spa", "--public", "--grant-types", "authorization_code,refresh_token",
		"--scopes", "openid,read", "--redirect-uris", "http://127.0.0.1:9999/callback")
	for _, args := range [][]string{
		{"client", "list"}, {"client", "list", "--output", "json"}, {"client", "show", "reports"}, {"client", "show", "spa"},
	} {
		if l, r := local(args...), remote(args...); l != r {
			t.Fatalf("latchkey %s: local and remote differ\nlocal:\n%s\nremote:\n%s", strings.Join(args, " "), l, r)
		}
	}
	var listed []map[string]any
	if err := json.Unmarshal([]byte(local("client", "list", "--output", "json")), &listed); err != nil || len(listed) != 3 {
		t.Fatalf("client list --output json: %v, %d clients", err, len(listed))
	}

	remote("user", "create", "alice", "--password", "correct horse", "--claim", "email=alice@example.com")
	// user create --output json prints the API's user resource, what user
	// show prints, on either side.
	createdRemote := remote("user", "create", "bob", "--password", "correct horse", "--claim", "email_verified=true", "--output", "json")
	createdLocal := local("user", "create", "carol", "--password", "correct horse", "--claim", "name=Carol", "--output", "json")
	if l := local("user", "show", "bob"); createdRemote != l {
		t.Fatalf("remote user create --output json:\n%s\nlocal user show:\n%s", createdRemote, l)
	}
	if r := remote("user", "show", "carol"); createdLocal != r {
		t.Fatalf("local user create --output json:\n%s\nremote user show:\n%s", createdLocal, r)
	}
	var shown map[string]any
	if err := json.Unmarshal([]byte(createdRemote), &shown); err != nil || shown["username"] != "bob" || shown["id"] == "" ||
		shown["claims"].(map[string]any)["email_verified"] != true {
		t.Fatalf("user create --output json: %v, %s", err, createdRemote)
	}
	for _, args := range [][]string{{"user", "list"}, {"user", "list", "--output", "json"}, {"user", "show", "alice"},
		{"keys", "list"}, {"keys", "list", "--output", "json"}} {
		if l, r := local(args...), remote(args...); l != r {
			t.Fatalf("latchkey %s: local and remote differ\nlocal:\n%s\nremote:\n%s", strings.Join(args, " "), l, r)
		}
	}
	if out := remote("user", "set-password", "alice", "--password", "battery staple"); out != "password of alice changed\n" {
		t.Fatalf("set-password: %q", out)
	}
	if out := remote("client", "rotate-secret", "reports"); !strings.HasPrefix(out, "client_secret: lk_cs_") {
		t.Fatalf("rotate-secret: %q", out)
	}
	if out := remote("keys", "rotate"); strings.Count(out, "staged ") != 4 {
		t.Fatalf("keys rotate: %q", out)
	}
	remote("user", "delete", "alice")
	remote("client", "delete", "reports")
	if out := local("client", "list"); strings.Contains(out, "reports") {
		t.Fatalf("reports still listed:\n%s", out)
	}

	// Refusals say what the server said, field by field.
	r := runCLI(t, vars, "", "client", "create", "--id", "web", "--grant-types", "authorization_code", "--server", srv.url)
	if r.err == nil || !strings.Contains(r.err.Error(), "redirect_uris: ") {
		t.Fatalf("invalid remote create: %v", r.err)
	}
	r = runCLI(t, map[string]string{"LATCHKEY_CLIENT_ID": "ops", "LATCHKEY_CLIENT_SECRET": "wrong"}, "", "client", "list", "--server", srv.url)
	if r.err == nil || !strings.Contains(r.err.Error(), "invalid_client") {
		t.Fatalf("wrong secret: %v", r.err)
	}
}
