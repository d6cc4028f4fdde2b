package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// injections are the A16 payloads: SQL, an escaped quote, a NUL byte and
// Unicode look-alikes of real names ("аpp" and "аlice" with a Cyrillic а,
// "ａlice" with a full-width a, "read" with a Cyrillic е).
var injections = []string{
	`' OR '1'='1`,
	`' OR 1=1--`,
	`"; DROP TABLE clients;--`,
	`'); DELETE FROM users; --`,
	`%27`,
	"app\x00",
	"alice\x00' OR '1'='1",
	"аpp",
	"аlice",
	"ａlice",
	"rеad",
	`\'`,
	`*`,
	`%`,
	`_`,
}

// TestA16InjectionGetsNormalErrors sends each payload in every parameter
// that reaches a query and checks that the answer is the ordinary RFC
// error (never a 500), that a payload never authenticates, and that every
// table is intact afterwards (A16).
func TestA16InjectionGetsNormalErrors(t *testing.T) {
	f := newFixture(t, generous)
	secret := f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password", "client_credentials", "refresh_token"},
		Scopes: []string{"read"}})
	f.AddUser(t, "alice", "wonderland", nil)
	f.AddUser(t, "bob", "builder", nil)
	before := f.countRows(t)

	for _, p := range injections {
		// A NUL byte is refused by the form parser before anything else;
		// through Basic it is malformed credentials.
		bodyCode := func(code string) string {
			if containsNUL(p) {
				return "invalid_request"
			}
			return code
		}
		statusOf := func(code string) int {
			if code == "invalid_client" {
				return http.StatusUnauthorized
			}
			return http.StatusBadRequest
		}
		cases := []struct {
			name string
			path string
			form url.Values
			opts []reqOpt
			code string
		}{
			{"client_id (body)", "/token", creds(p, "x", formOf("grant_type", "client_credentials")), nil, bodyCode("invalid_client")},
			{"client_secret (body)", "/token", creds("app", p, formOf("grant_type", "client_credentials")), nil, bodyCode("invalid_client")},
			{"client_id (Basic)", "/token", formOf("grant_type", "client_credentials"), []reqOpt{basic(p, "x")}, "invalid_client"},
			{"client_secret (Basic)", "/token", formOf("grant_type", "client_credentials"), []reqOpt{basic("app", p)}, "invalid_client"},
			{"username", "/token", formOf("grant_type", "password", "username", p, "password", "wonderland"),
				[]reqOpt{basic("app", secret)}, bodyCode("invalid_grant")},
			{"password", "/token", formOf("grant_type", "password", "username", "alice", "password", p),
				[]reqOpt{basic("app", secret)}, bodyCode("invalid_grant")},
			{"scope", "/token", formOf("grant_type", "client_credentials", "scope", p),
				[]reqOpt{basic("app", secret)}, bodyCode("invalid_scope")},
			{"refresh_token", "/token", formOf("grant_type", "refresh_token", "refresh_token", p),
				[]reqOpt{basic("app", secret)}, bodyCode("invalid_grant")},
			{"refresh_token with prefix", "/token", formOf("grant_type", "refresh_token", "refresh_token", "lk_rt_"+p),
				[]reqOpt{basic("app", secret)}, bodyCode("invalid_grant")},
			{"grant_type", "/token", formOf("grant_type", p), []reqOpt{basic("app", secret)}, bodyCode("unsupported_grant_type")},
		}
		for _, tc := range cases {
			t.Run(tc.name+" "+p, func(t *testing.T) {
				r := post(t, f.Env, tc.path, tc.form, tc.opts...)
				wantOAuthError(t, r, statusOf(tc.code), tc.code)
			})
		}
		t.Run("token at introspect "+p, func(t *testing.T) {
			r := post(t, f.Env, "/introspect", formOf("token", p, "token_type_hint", p), basic("app", secret))
			if containsNUL(p) {
				wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
				return
			}
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			wantInactive(t, r.JSON(t))
		})
		t.Run("token at revoke "+p, func(t *testing.T) {
			r := post(t, f.Env, "/revoke", formOf("token", p, "token_type_hint", p), basic("app", secret))
			if containsNUL(p) {
				wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
				return
			}
			if r.Status != http.StatusOK || len(r.Body) != 0 {
				t.Errorf("revoke: status %d body %q, want 200 and nothing (S073)", r.Status, r.Body)
			}
		})
	}

	after := f.countRows(t)
	for _, tbl := range []string{"clients", "users", "signing_keys", "grants", "refresh_tokens", "access_tokens", "revoked_jtis"} {
		if after[tbl] != before[tbl] {
			t.Errorf("table %s: %d rows → %d (A16: tables intact)", tbl, before[tbl], after[tbl])
		}
	}
	// The real client and user still work.
	wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "password", "username", "alice", "password", "wonderland"),
		basic("app", secret)))
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}
