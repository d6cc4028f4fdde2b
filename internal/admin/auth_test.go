package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/admin"
)

// everyRoute is each route with a concrete path, the scope it needs and
// a body it accepts the shape of.
var everyRoute = []struct{ method, path, scope string }{
	{"GET", "/clients", admin.ScopeClientsRead},
	{"POST", "/clients", admin.ScopeClientsWrite},
	{"GET", "/clients/x", admin.ScopeClientsRead},
	{"PUT", "/clients/x", admin.ScopeClientsWrite},
	{"DELETE", "/clients/x", admin.ScopeClientsWrite},
	{"POST", "/clients/x/secret", admin.ScopeClientsWrite},
	{"GET", "/users", admin.ScopeUsersRead},
	{"POST", "/users", admin.ScopeUsersWrite},
	{"GET", "/users/x", admin.ScopeUsersRead},
	{"PATCH", "/users/x", admin.ScopeUsersWrite},
	{"PUT", "/users/x/password", admin.ScopeUsersWrite},
	{"DELETE", "/users/x", admin.ScopeUsersWrite},
	{"POST", "/users/x/disable", admin.ScopeUsersWrite},
	{"POST", "/users/x/enable", admin.ScopeUsersWrite},
	{"GET", "/users/x/consents", admin.ScopeUsersRead},
	{"DELETE", "/users/x/consents/c", admin.ScopeUsersWrite},
	{"GET", "/users/x/sessions", admin.ScopeUsersRead},
	{"DELETE", "/users/x/sessions/s", admin.ScopeUsersWrite},
	{"GET", "/users/x/grants", admin.ScopeUsersRead},
	{"DELETE", "/users/x/grants/g", admin.ScopeUsersWrite},
	{"GET", "/keys", admin.ScopeKeysRead},
	{"POST", "/keys/rotation", admin.ScopeKeysWrite},
	{"GET", "/audit", admin.ScopeAuditRead},
	{"GET", "/registration/tokens", admin.ScopeClientsRead},
	{"POST", "/registration/tokens", admin.ScopeClientsWrite},
	{"DELETE", "/registration/tokens/x", admin.ScopeClientsWrite},
}

// TestAdminAuth: every route answers 401 with a Bearer challenge without
// a token (RFC 6750 §3.1), 403 insufficient_scope naming the scope with
// a token lacking it, and lets the right scope, the area's write scope
// (for reads) and latchkey:admin through.
func TestAdminAuth(t *testing.T) {
	f := start(t)
	other := f.token(t, "read")
	all := f.token(t, admin.ScopeAll)
	for _, rt := range everyRoute {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			r := f.call(t, rt.method, rt.path, "", "")
			wantStatus(t, "no token", r, http.StatusUnauthorized)
			if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="latchkey-admin"`) || strings.Contains(ch, "error=") {
				t.Fatalf("no token: WWW-Authenticate %q", ch)
			}
			r = f.call(t, rt.method, rt.path, other, "")
			wantStatus(t, "token without the scope", r, http.StatusForbidden)
			if ch := r.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="`+rt.scope+`"`) {
				t.Fatalf("wrong scope: WWW-Authenticate %q", ch)
			}
			for _, tok := range []string{all, f.token(t, rt.scope)} {
				if r := f.call(t, rt.method, rt.path, tok, ""); r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden {
					t.Fatalf("a token with the scope was refused: %d %s", r.Status, r.Body)
				}
			}
		})
	}
	if r := f.call(t, "GET", "/clients", f.token(t, admin.ScopeClientsWrite), ""); r.Status != http.StatusOK {
		t.Fatalf("clients:write does not imply clients:read: %d", r.Status)
	}
	if r := f.call(t, "GET", "/users", f.token(t, admin.ScopeClientsWrite), ""); r.Status != http.StatusForbidden {
		t.Fatalf("clients:write opened users: %d", r.Status)
	}
}

// TestAdminRevokedTokenRefused: a signature-valid token stops working at
// once when it is revoked, or when its client is deleted.
func TestAdminRevokedTokenRefused(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeAll) // client admin-1
	wantStatus(t, "before", f.call(t, "GET", "/clients", tok, ""), http.StatusOK)

	victim := f.token(t, admin.ScopeAll) // client admin-2
	wantStatus(t, "delete its client", f.call(t, "DELETE", "/clients/admin-2", tok, ""), http.StatusNoContent)
	r := f.call(t, "GET", "/clients", victim, "")
	wantProblem(t, "client gone", r, http.StatusUnauthorized)
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("client gone: WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}

	// RFC 7009 revocation by the token's own client.
	secret := f.env.AddClient(t, storeClient("ops", admin.ScopeAll))
	opsTok := f.fetch(t, "ops", secret, admin.ScopeAll)
	form := url.Values{"token": {opsTok}}
	req, _ := http.NewRequest("POST", f.env.URL+"/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("ops", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	wantProblem(t, "revoked", f.call(t, "GET", "/clients", opsTok, ""), http.StatusUnauthorized)
}

// TestAdminUnknownRoutes: a known path with another method is 405 with
// Allow; an unknown path is a 404 problem; the document is public.
func TestAdminUnknownRoutes(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeAll)
	r := f.call(t, "PATCH", "/clients", tok, "")
	wantProblem(t, "PATCH /clients", r, http.StatusMethodNotAllowed)
	if r.Header.Get("Allow") != "GET, POST" {
		t.Fatalf("Allow %q", r.Header.Get("Allow"))
	}
	wantProblem(t, "unknown", f.call(t, "GET", "/nope", tok, ""), http.StatusNotFound)
	r = f.call(t, "GET", "/openapi.json", "", "")
	wantStatus(t, "openapi.json", r, http.StatusOK)
	if r.json(t)["openapi"] != "3.1.0" {
		t.Fatalf("openapi: %s", r.Body[:min(len(r.Body), 80)])
	}
}
