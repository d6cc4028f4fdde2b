package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testkit"
)

// refreshFixture has two confidential clients that may use the password
// and refresh grants, and one user.
type refreshFixture struct {
	*fixture
	secrets map[string]string
}

func newRefreshFixture(t *testing.T, clients ...store.Client) refreshFixture {
	f := refreshFixture{fixture: newFixture(t, nil), secrets: map[string]string{}}
	if len(clients) == 0 {
		clients = []store.Client{{ID: "app"}, {ID: "other"}}
	}
	for _, c := range clients {
		c.GrantTypes = []string{"password", "refresh_token"}
		c.Scopes = []string{"read", "write", "admin"}
		f.secrets[c.ID] = f.AddClient(t, c)
	}
	f.AddUser(t, "alice", "wonderland", nil)
	return f
}

// login runs the password grant as client and returns the token response.
func (f refreshFixture) login(t *testing.T, client, scope string) map[string]any {
	t.Helper()
	return wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "password", "username", "alice",
		"password", "wonderland", "scope", scope), basic(client, f.secrets[client])))
}

// refresh exchanges rt as client, with scope when not "".
func (f refreshFixture) refresh(t *testing.T, client, rt, scope string) result {
	t.Helper()
	form := formOf("grant_type", "refresh_token", "refresh_token", rt)
	if scope != "" {
		form.Set("scope", scope)
	}
	return post(t, f.Env, "/token", form, basic(client, f.secrets[client]))
}

func (f refreshFixture) active(t *testing.T, tok string) bool {
	t.Helper()
	got := introspect(t, f.Env, "app", f.secrets["app"], tok)
	return got["active"] == true
}

// TestRefreshBoundToClient checks S041 (A8): another client presenting the
// refresh token gets invalid_grant, and the token stays usable by its own.
func TestRefreshBoundToClient(t *testing.T) {
	f := newRefreshFixture(t)
	tok := f.login(t, "app", "read")
	wantOAuthError(t, f.refresh(t, "other", tok["refresh_token"].(string), ""), http.StatusBadRequest, "invalid_grant")
	wantToken(t, f.refresh(t, "app", tok["refresh_token"].(string), ""))
}

// TestRefreshScopeMayOnlyNarrow checks S036: widening is invalid_scope;
// narrowing is granted for that access token only, and the rotated refresh
// token keeps the original scope.
func TestRefreshScopeMayOnlyNarrow(t *testing.T) {
	f := newRefreshFixture(t)
	tok := f.login(t, "app", "read write")
	rt := tok["refresh_token"].(string)
	wantOAuthError(t, f.refresh(t, "app", rt, "read admin"), http.StatusBadRequest, "invalid_scope")
	wantOAuthError(t, f.refresh(t, "app", rt, `read "`), http.StatusBadRequest, "invalid_scope")

	narrow := wantToken(t, f.refresh(t, "app", rt, "read"))
	if narrow["scope"] != "read" {
		t.Fatalf("narrowed scope = %v, want read", narrow["scope"])
	}
	if got := introspect(t, f.Env, "app", f.secrets["app"], narrow["access_token"].(string)); got["scope"] != "read" {
		t.Errorf("narrowed access token scope = %v", got["scope"])
	}
	next := narrow["refresh_token"].(string)
	if got := introspect(t, f.Env, "app", f.secrets["app"], next); got["scope"] != "read write" {
		t.Errorf("rotated refresh token scope = %v, want the original read write (S036)", got["scope"])
	}
	again := wantToken(t, f.refresh(t, "app", next, ""))
	if again["scope"] != "read write" {
		t.Errorf("scope after narrowing once = %v, want the original read write (S036)", again["scope"])
	}
}

// TestRefreshReuseRevokesFamily checks S133 and A8: presenting a rotated
// refresh token is invalid_grant and revokes the whole grant: the active
// refresh token and every access token issued under it.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	for _, format := range []string{"jwt", "opaque"} {
		t.Run(format, func(t *testing.T) {
			f := newRefreshFixture(t, store.Client{ID: "app", AccessTokenFormat: format})
			first := f.login(t, "app", "read")
			rt1, at1 := first["refresh_token"].(string), first["access_token"].(string)
			second := wantToken(t, f.refresh(t, "app", rt1, ""))
			rt2, at2 := second["refresh_token"].(string), second["access_token"].(string)
			if !f.active(t, at2) || !f.active(t, rt2) {
				t.Fatal("fresh tokens are not active")
			}

			wantOAuthError(t, f.refresh(t, "app", rt1, ""), http.StatusBadRequest, "invalid_grant")
			for name, tok := range map[string]string{"AT1": at1, "AT2": at2, "RT2": rt2, "RT1": rt1} {
				if f.active(t, tok) {
					t.Errorf("%s still active after reuse (S133)", name)
				}
			}
			wantOAuthError(t, f.refresh(t, "app", rt2, ""), http.StatusBadRequest, "invalid_grant")
			if !strings.Contains(f.Logs.String(), "refresh token reused") {
				t.Error("reuse not logged")
			}
		})
	}
}

// TestConcurrentRefreshWithoutGrace checks A8: two concurrent refreshes of
// one token never both rotate it; exactly one succeeds.
func TestConcurrentRefreshWithoutGrace(t *testing.T) {
	f := newRefreshFixture(t)
	rt := f.login(t, "app", "read")["refresh_token"].(string)
	results := testkit.AtOnce(2, func(int) result { return f.refresh(t, "app", rt, "") })
	ok := 0
	for _, r := range results {
		if r.Status == http.StatusOK {
			ok++
		} else {
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent refreshes succeeded, want exactly 1", ok)
	}
}

// TestConcurrentRefreshWithinGrace checks the grace window: a client with
// RefreshGrace gets the same successor for concurrent refreshes of one
// token, and the family survives; after the window, reuse revokes it.
func TestConcurrentRefreshWithinGrace(t *testing.T) {
	f := newRefreshFixture(t, store.Client{ID: "app", RefreshGrace: 10 * time.Second})
	rt := f.login(t, "app", "read")["refresh_token"].(string)
	results := testkit.AtOnce(4, func(int) result { return f.refresh(t, "app", rt, "") })
	var successor string
	for i, r := range results {
		body := wantToken(t, r)
		got := body["refresh_token"].(string)
		if i == 0 {
			successor = got
		} else if got != successor {
			t.Fatalf("refresh %d got successor %q, want the same %q", i, got, successor)
		}
	}
	if !f.active(t, successor) {
		t.Fatal("the shared successor is not active")
	}

	f.Clock.Advance(11 * time.Second)
	wantOAuthError(t, f.refresh(t, "app", rt, ""), http.StatusBadRequest, "invalid_grant")
	if f.active(t, successor) {
		t.Error("reuse after the grace window did not revoke the family (S133)")
	}
}

// TestExpiredRefreshToken checks S034: a refresh token past its lifetime
// is invalid_grant and inactive.
func TestExpiredRefreshToken(t *testing.T) {
	f := newRefreshFixture(t, store.Client{ID: "app", RefreshTokenTTL: time.Hour})
	rt := f.login(t, "app", "read")["refresh_token"].(string)
	f.Clock.Advance(time.Hour + time.Second)
	wantOAuthError(t, f.refresh(t, "app", rt, ""), http.StatusBadRequest, "invalid_grant")
	if f.active(t, rt) {
		t.Error("expired refresh token is active")
	}
}

// TestRefreshAbsoluteLifetime checks S135: rotation never extends a grant
// past its absolute lifetime; once it has passed, refresh is invalid_grant
// and introspection reports the refresh token inactive (S079), even though
// the token's own sliding expiry lies later.
func TestRefreshAbsoluteLifetime(t *testing.T) {
	f := refreshFixture{fixture: newFixture(t, func(c *server.Config) {
		c.RefreshTokenTTL = time.Hour
		c.RefreshTokenAbsoluteTTL = 2 * time.Hour
	}), secrets: map[string]string{}}
	f.secrets["app"] = f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}})
	f.AddUser(t, "alice", "wonderland", nil)
	rt := f.login(t, "app", "read")["refresh_token"].(string)
	for range 2 { // t0+50m and t0+1h40m: each rotation slides the token's own expiry
		f.Clock.Advance(50 * time.Minute)
		rt = wantToken(t, f.refresh(t, "app", rt, ""))["refresh_token"].(string)
	}
	info := introspect(t, f.Env, "app", f.secrets["app"], rt)
	if exp, _ := info["exp"].(float64); time.Unix(int64(exp), 0).After(f.Clock.Now().Add(20*time.Minute + time.Second)) {
		t.Errorf("refresh token exp %v lies beyond the grant's absolute lifetime", time.Unix(int64(exp), 0))
	}
	f.Clock.Advance(30 * time.Minute) // t0+2h10m: the grant has expired
	wantOAuthError(t, f.refresh(t, "app", rt, ""), http.StatusBadRequest, "invalid_grant")
	wantInactive(t, introspect(t, f.Env, "app", f.secrets["app"], rt))
}
