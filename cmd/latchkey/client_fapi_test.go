package main

// client create for private_key_jwt, DPoP, PAR, resources and the fapi2
// profile: what it stores, and what it refuses.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClientCreateFAPI2(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	_, pub := writeECKey(t, t.TempDir(), "client")
	out := mustRun(t, nil, "", "client", "create", "--id", "bank", "--profile", "fapi2", "--grant-types", "authorization_code,refresh_token",
		"--scopes", "openid,read", "--redirect-uris", "https://bank.example/cb", "--jwks-file", pub, "--resource", "https://api.bank.example",
		"--storage", st)
	if strings.Contains(out, "client_secret") || !strings.Contains(out, "private_key_jwt") {
		t.Errorf("client create --profile fapi2 printed:\n%s\nwant no secret, and a word on private_key_jwt", out)
	}
	show := decodeJSON(t, mustRun(t, nil, "", "client", "show", "bank", "--storage", st))
	for name, want := range map[string]any{"profile": "fapi2", "token_endpoint_auth_method": "private_key_jwt", "has_secret": false,
		"dpop_bound_access_tokens": true, "require_pushed_authorization_requests": true} {
		if show[name] != want {
			t.Errorf("client show: %s = %v, want %v", name, show[name], want)
		}
	}
	if res, _ := show["resources"].([]any); len(res) != 1 || res[0] != "https://api.bank.example" {
		t.Errorf("client show: resources %v", show["resources"])
	}
	if set, _ := show["jwks"].(map[string]any); set == nil {
		t.Errorf("client show: no jwks in %v", show)
	}
	if r := runCLI(t, nil, "", "client", "rotate-secret", "bank", "--storage", st); r.err == nil || !strings.Contains(r.err.Error(), "private_key_jwt") {
		t.Errorf("rotate-secret of a private_key_jwt client: %v, want a refusal saying why", r.err)
	}

	// The other flags, one client each.
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	set, _ := show["jwks"].(map[string]any)
	keys, _ := set["keys"].([]any)
	writeJSON(t, jwks, map[string]any{"keys": keys})
	mustRun(t, nil, "", "client", "create", "--id", "svc", "--grant-types", "client_credentials", "--scopes", "read",
		"--token-endpoint-auth-method", "private_key_jwt", "--jwks-file", jwks, "--dpop-bound", "--require-dpop-nonce",
		"--refresh-rotation", "reuse", "--storage", st)
	show = decodeJSON(t, mustRun(t, nil, "", "client", "show", "svc", "--storage", st))
	if show["require_dpop_nonce"] != true || show["dpop_bound_access_tokens"] != true || show["refresh_token_rotation"] != "reuse" || show["has_secret"] != false {
		t.Errorf("client show svc: %v", show)
	}
	mustRun(t, nil, "", "client", "create", "--id", "remote", "--grant-types", "client_credentials", "--scopes", "read",
		"--token-endpoint-auth-method", "private_key_jwt", "--jwks-uri", "https://app.example/jwks.json", "--storage", st)
	if show := decodeJSON(t, mustRun(t, nil, "", "client", "show", "remote", "--storage", st)); show["jwks_uri"] != "https://app.example/jwks.json" {
		t.Errorf("client show remote: %v", show)
	}
	out = mustRun(t, nil, "", "client", "create", "--id", "pushed", "--grant-types", "authorization_code", "--scopes", "read",
		"--redirect-uris", "https://app.example/cb", "--require-par", "--storage", st)
	if printedSecret(t, out) == "" {
		t.Error("a client_secret_basic client with --require-par got no secret")
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestClientCreateRefusesBadKeyFlags: the config file's rules, with the
// flags named.
func TestClientCreateRefusesBadKeyFlags(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	dir := t.TempDir()
	priv, pub := writeECKey(t, dir, "client")
	notKeys := filepath.Join(dir, "notkeys.json")
	writeJSON(t, notKeys, map[string]any{"keys": []any{}})
	cc := []string{"--grant-types", "client_credentials", "--scopes", "read"}
	pkjwt := append([]string{"--token-endpoint-auth-method", "private_key_jwt"}, cc...)
	ac := []string{"--grant-types", "authorization_code", "--scopes", "read", "--redirect-uris", "https://app.example/cb"}
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
		usage bool
	}{
		{"private_key_jwt without keys", pkjwt, []string{"--jwks-file", "--jwks-uri"}, true},
		{"fapi2 without keys", append([]string{"--profile", "fapi2"}, ac...), []string{"--jwks-file", "--jwks-uri"}, true},
		{"both jwks and jwks_uri", append(pkjwt, "--jwks-file", pub, "--jwks-uri", "https://app.example/jwks"), []string{"--jwks-uri", "only one"}, false},
		{"keys for a secret client", append(cc, "--jwks-file", pub), []string{"--token-endpoint-auth-method", "private_key_jwt"}, false},
		{"a private key as jwks", append(pkjwt, "--jwks-file", priv), []string{"--jwks-file", "private key", "-pubout"}, false},
		{"an empty key set", append(pkjwt, "--jwks-file", notKeys), []string{"--jwks-file", "no keys"}, false},
		{"a missing file", append(pkjwt, "--jwks-file", filepath.Join(dir, "missing.json")), []string{"--jwks-file", "missing.json"}, false},
		{"jwks_uri over http", append(pkjwt, "--jwks-uri", "http://app.example/jwks"), []string{"--jwks-uri", "https"}, false},
		{"fapi2 public", append([]string{"--profile", "fapi2", "--public"}, ac...), []string{"--public", "fapi2"}, false},
		{"fapi2 with a secret method", append([]string{"--profile", "fapi2", "--jwks-file", pub, "--token-endpoint-auth-method", "client_secret_basic"}, ac...),
			[]string{"--token-endpoint-auth-method", "private_key_jwt"}, false},
		{"fapi2 with the password grant", []string{"--profile", "fapi2", "--jwks-file", pub, "--grant-types", "password", "--scopes", "read"},
			[]string{"--grant-types", "password"}, false},
		{"unknown profile", append([]string{"--profile", "fapi3"}, cc...), []string{"--profile", "fapi2"}, false},
		{"unknown rotation", append([]string{"--refresh-rotation", "sometimes"}, cc...), []string{"--refresh-rotation", "reuse"}, false},
		{"a resource with a fragment", append([]string{"--resource", "https://api.example#x"}, cc...), []string{"--resource", "fragment"}, false},
		{"a resource twice", append([]string{"--resource", "https://api.example", "--resource", "https://api.example"}, cc...), []string{"--resource", "twice"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, "", append([]string{"client", "create", "--id", "x", "--storage", st}, tc.args...)...)
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
