package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

// TestAdminUserAccess lists and withdraws what a user gave away: a
// withdrawn consent and a revoked grant stop the refresh token at the
// token endpoint; an ended session is gone from the store.
func TestAdminUserAccess(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeUsersWrite)
	web := f.env.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	alice := f.env.AddUser(t, "alice", "correct horse", nil)
	conf := oauth2.Config{ClientID: "web", ClientSecret: web, Scopes: []string{"read"},
		Endpoint: oauth2.Endpoint{TokenURL: f.env.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	refreshWorks := func(rt string) bool {
		_, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
		return err == nil
	}
	first, err := conf.PasswordCredentialsToken(t.Context(), "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	second, err := conf.PasswordCredentialsToken(t.Context(), "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	user := "/users/" + alice.ID

	// Grants: two; revoking one stops its refresh token only.
	grants := f.call(t, "GET", user+"/grants", tok, "").json(t)["items"].([]any)
	if len(grants) != 2 {
		t.Fatalf("%d grants, want 2", len(grants))
	}
	gid := grants[0].(map[string]any)["id"].(string)
	wantStatus(t, "revoke grant", f.call(t, "DELETE", user+"/grants/"+gid, tok, ""), http.StatusNoContent)
	wantStatus(t, "revoke again", f.call(t, "DELETE", user+"/grants/"+gid, tok, ""), http.StatusNoContent)
	if g, err := f.env.Store.GetGrant(context.Background(), gid); err != nil || g.RevokedAt.IsZero() {
		t.Fatalf("grant %s: %+v, %v", gid, g, err)
	}
	if works := []bool{refreshWorks(first.RefreshToken), refreshWorks(second.RefreshToken)}; works[0] == works[1] {
		t.Fatalf("after revoking one of two grants, refresh works: %v", works)
	}

	// Consents: withdrawing web's revokes every grant of alice to web.
	if err := f.env.Store.SaveConsent(context.Background(), store.Consent{UserID: alice.ID, ClientID: "web", Scopes: []string{"read"}, GrantedAt: f.env.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	third, err := conf.PasswordCredentialsToken(t.Context(), "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	consents := f.call(t, "GET", user+"/consents", tok, "").json(t)["items"].([]any)
	if len(consents) != 1 || consents[0].(map[string]any)["client_id"] != "web" {
		t.Fatalf("consents: %v", consents)
	}
	wantStatus(t, "withdraw", f.call(t, "DELETE", user+"/consents/web", tok, ""), http.StatusNoContent)
	if refreshWorks(third.RefreshToken) {
		t.Fatal("a refresh token outlived the withdrawn consent")
	}
	if _, err := f.env.Store.GetConsent(context.Background(), alice.ID, "web"); err == nil {
		t.Fatal("the consent is still stored")
	}

	// Sessions: one, ended through the server.
	now := f.env.Clock.Now()
	sess := store.Session{Digest: "digest-of-a-cookie", UserID: alice.ID, SID: "sid-1", UserAgent: "curl", IP: "192.0.2.1",
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := f.env.Store.CreateSession(context.Background(), sess); err != nil {
		t.Fatal(err)
	}
	r := f.call(t, "GET", user+"/sessions", tok, "")
	sessions := r.json(t)["items"].([]any)
	if len(sessions) != 1 || sessions[0].(map[string]any)["sid"] != "sid-1" || contains(r.Body, "digest-of-a-cookie") {
		t.Fatalf("sessions: %s", r.Body)
	}
	wantStatus(t, "end session", f.call(t, "DELETE", user+"/sessions/sid-1", tok, ""), http.StatusNoContent)
	if _, err := f.env.Store.GetSession(context.Background(), "digest-of-a-cookie", now); err == nil {
		t.Fatal("the ended session is still stored")
	}
	wantStatus(t, "end again", f.call(t, "DELETE", user+"/sessions/sid-1", tok, ""), http.StatusNoContent)
	wantProblem(t, "unknown user", f.call(t, "GET", "/users/nope/grants", tok, ""), http.StatusNotFound)
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestAdminDisabledUser: a disabled user cannot use the password grant,
// their refresh token stops, their session ends; enabled again, they sign
// in again, and what disabling revoked stays revoked.
func TestAdminDisabledUser(t *testing.T) {
	f := start(t)
	tok := f.token(t, admin.ScopeUsersWrite)
	web := f.env.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	alice := f.env.AddUser(t, "alice", "correct horse", nil)
	conf := oauth2.Config{ClientID: "web", ClientSecret: web, Scopes: []string{"read"},
		Endpoint: oauth2.Endpoint{TokenURL: f.env.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	before, err := conf.PasswordCredentialsToken(t.Context(), "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	now := f.env.Clock.Now()
	if err := f.env.Store.CreateSession(context.Background(), store.Session{Digest: "cookie-digest", UserID: alice.ID, SID: "sid-1",
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	r := f.call(t, "POST", "/users/"+alice.ID+"/disable", tok, "")
	wantStatus(t, "disable", r, http.StatusOK)
	if r.json(t)["disabled"] != true {
		t.Fatalf("disable: %s", r.Body)
	}
	if _, err := conf.PasswordCredentialsToken(t.Context(), "alice", "correct horse"); err == nil {
		t.Fatal("a disabled user got tokens with the password grant")
	}
	expired := &oauth2.Token{RefreshToken: before.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	if _, err := conf.TokenSource(context.Background(), expired).Token(); err == nil {
		t.Fatal("a disabled user's refresh token still works")
	}
	if _, err := f.env.Store.GetSession(context.Background(), "cookie-digest", now); err == nil {
		t.Fatal("a disabled user's session was not ended")
	}
	if stored, _ := f.env.Store.GetUser(context.Background(), alice.ID); !stored.Disabled() {
		t.Fatal("the store does not hold the user as disabled")
	}

	wantStatus(t, "enable", f.call(t, "POST", "/users/"+alice.ID+"/enable", tok, ""), http.StatusOK)
	if _, err := conf.PasswordCredentialsToken(t.Context(), "alice", "correct horse"); err != nil {
		t.Fatalf("an enabled user cannot sign in: %v", err)
	}
	if _, err := conf.TokenSource(context.Background(), expired).Token(); err == nil {
		t.Fatal("a refresh token revoked by disabling works again after enabling")
	}
	wantProblem(t, "stale", f.call(t, "POST", "/users/"+alice.ID+"/disable", tok, "", "If-Match", `"old"`), http.StatusPreconditionFailed)
}
