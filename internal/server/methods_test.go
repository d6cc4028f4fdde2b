package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestMethodNotAllowedEverywhere: every endpoint answers a method it does
// not serve with 405 and Allow (RFC 9110 §15.5.6), through the same writer
// as its other errors: RFC 6749 §5.2 JSON for the JSON endpoints (S013),
// the error page for the browser's.
func TestMethodNotAllowedEverywhere(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		method, path, allow string
		page                bool
	}{
		{http.MethodGet, "/token", "POST", false},
		{http.MethodGet, "/introspect", "POST", false},
		{http.MethodDelete, "/revoke", "POST", false},
		{http.MethodPut, "/userinfo", "GET, POST", false},
		{http.MethodPost, "/.well-known/oauth-authorization-server", "GET, HEAD", false},
		{http.MethodPost, "/.well-known/openid-configuration", "GET, HEAD", false},
		{http.MethodPost, "/jwks", "GET, HEAD", false},
		{http.MethodPost, "/healthz", "GET, HEAD", false},
		{http.MethodPost, "/readyz", "GET, HEAD", false},
		{http.MethodDelete, "/metrics", "GET, HEAD", false},
		{http.MethodPost, "/assets/style.css", "GET, HEAD", false},
		{http.MethodPut, "/authorize", "GET, HEAD, POST", true},
		{http.MethodGet, "/login", "POST", true},
		{http.MethodGet, "/consent", "POST", true},
		{http.MethodDelete, "/logout", "GET, HEAD, POST", true},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := send(t, f.Env, tc.method, tc.path, "", "")
			if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != tc.allow {
				t.Fatalf("%d Allow %q, want 405 Allow %q", r.Status, r.Header.Get("Allow"), tc.allow)
			}
			if tc.page {
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(r.Body), "<h1>") {
					t.Errorf("Content-Type %q, want the HTML error page:\n%s", ct, r.Body)
				}
				return
			}
			wantOAuthError(t, r, http.StatusMethodNotAllowed, "invalid_request")
		})
	}
}
