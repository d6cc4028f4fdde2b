package admin_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

// TestAdminClientGrants lists a client's live grants a page at a time and
// revokes one: its refresh token is then refused at /token with
// invalid_grant (RFC 6749 §5.2); another client's grant is 404, and the
// revocation is an admin.change event.
func TestAdminClientGrants(t *testing.T) {
	f := start(t)
	read, write := f.token(t, admin.ScopeClientsRead), f.token(t, admin.ScopeClientsWrite) // admin-1, admin-2
	web := f.env.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	other := f.env.AddClient(t, store.Client{ID: "other", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	f.env.AddUser(t, "alice", "correct horse", nil)
	conf := func(id, secret string) oauth2.Config {
		return oauth2.Config{ClientID: id, ClientSecret: secret, Scopes: []string{"read"},
			Endpoint: oauth2.Endpoint{TokenURL: f.env.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	}
	webConf, otherConf := conf("web", web), conf("other", other)
	var refresh []string
	for range 3 {
		tok, err := webConf.PasswordCredentialsToken(t.Context(), "alice", "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		refresh = append(refresh, tok.RefreshToken)
	}
	if _, err := otherConf.PasswordCredentialsToken(t.Context(), "alice", "correct horse"); err != nil {
		t.Fatal(err)
	}

	// Paging: 2 then 1, every grant web's.
	first := f.call(t, "GET", "/clients/web/grants?limit=2", read, "")
	wantStatus(t, "list", first, http.StatusOK)
	page := first.json(t)
	next, _ := page["next_cursor"].(string)
	if len(page["items"].([]any)) != 2 || next == "" {
		t.Fatalf("first page: %v", page)
	}
	rest := f.call(t, "GET", "/clients/web/grants?limit=2&cursor="+next, read, "").json(t)
	items := append(page["items"].([]any), rest["items"].([]any)...)
	if len(items) != 3 || rest["next_cursor"] != nil {
		t.Fatalf("second page: %v", rest)
	}
	for _, it := range items {
		if g := it.(map[string]any); g["client_id"] != "web" || g["user_id"] == "" {
			t.Fatalf("grant %v is not web's for alice", g)
		}
	}

	// Access control: no token, and a read token, may not revoke.
	gid := items[0].(map[string]any)["id"].(string)
	wantStatus(t, "no token", f.call(t, "GET", "/clients/web/grants", "", ""), http.StatusUnauthorized)
	wantStatus(t, "read scope revokes", f.call(t, "DELETE", "/clients/web/grants/"+gid, read, ""), http.StatusForbidden)
	wantStatus(t, "users scope lists", f.call(t, "GET", "/clients/web/grants", f.token(t, admin.ScopeUsersRead), ""), http.StatusForbidden)

	// Revoking: 204, again 204, and the grant's refresh token stops.
	wantStatus(t, "revoke", f.call(t, "DELETE", "/clients/web/grants/"+gid, write, ""), http.StatusNoContent)
	wantStatus(t, "revoke again", f.call(t, "DELETE", "/clients/web/grants/"+gid, write, ""), http.StatusNoContent)
	g, err := f.env.Store.GetGrant(context.Background(), gid)
	if err != nil || g.RevokedAt.IsZero() {
		t.Fatalf("grant %s: %+v, %v", gid, g, err)
	}
	refused := 0
	for _, rt := range refresh {
		_, err := webConf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			refused++
		} else if err != nil {
			t.Fatalf("refresh: %v", err)
		}
	}
	if refused != 1 {
		t.Fatalf("%d refresh tokens refused with invalid_grant after revoking one grant of three, want 1", refused)
	}
	if left := f.call(t, "GET", "/clients/web/grants", read, "").json(t)["items"].([]any); len(left) != 2 {
		t.Fatalf("%d live grants after the revocation, want 2", len(left))
	}

	// Another client's grant, an unknown grant and an unknown client: 404.
	otherGrant := f.call(t, "GET", "/clients/other/grants", read, "").json(t)["items"].([]any)[0].(map[string]any)["id"].(string)
	wantProblem(t, "other's grant", f.call(t, "DELETE", "/clients/web/grants/"+otherGrant, write, ""), http.StatusNotFound)
	wantProblem(t, "unknown grant", f.call(t, "DELETE", "/clients/web/grants/nope", write, ""), http.StatusNotFound)
	wantProblem(t, "unknown client", f.call(t, "GET", "/clients/nope/grants", read, ""), http.StatusNotFound)
	if g, _ := f.env.Store.GetGrant(context.Background(), otherGrant); !g.RevokedAt.IsZero() {
		t.Fatal("another client's grant was revoked")
	}

	// The revocation is audited, once.
	var events []any
	for deadline := time.Now().Add(5 * time.Second); len(events) < 1 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		events = f.call(t, "GET", "/audit?type=admin.change", f.token(t, admin.ScopeAuditRead), "").json(t)["items"].([]any)
	}
	if len(events) != 1 {
		t.Fatalf("%d admin.change events, want 1", len(events))
	}
	if d := events[0].(map[string]any)["details"].(map[string]any); d["object"] != "grant" || d["action"] != "revoke" || d["id"] != gid {
		t.Fatalf("audit event: %v", events[0])
	}
}
