package server_test

import (
	"net/http"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
)

// TestAuthzIDTokenHint is OpenID Connect Core §3.1.2.1 (S221, S222): an
// id_token_hint naming another user than the signed-in one means a login
// (login_required under prompt=none); the signed-in user's own hint passes
// silently; a hint this server did not sign is invalid_request.
func TestAuthzIDTokenHint(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	s.AddUser(t, "bob", "builder", nil)
	alice := s.browser(t)
	p, verifier := azParamsWith("web", "scope", "openid")
	code := alice.code(p)
	_, tok := azRedeem(t, s.Env, "web", s.secret, code, verifier)
	aliceHint := tok.IDToken

	// Alice's own hint with prompt=none: a code, no page.
	p, _ = azParamsWith("web", "scope", "openid", "prompt", "none", "id_token_hint", aliceHint)
	if q := alice.authorize(p).callback(t, azCB); q.Get("code") == "" {
		t.Fatalf("own hint, prompt=none: %v, want a code", q)
	}

	// Bob is signed in on another browser; Alice's hint does not match him.
	bob := s.browser(t)
	if r := bob.follow(bob.login(bob.authorize(azReq("web")), "bob", "builder")); !r.isConsent() {
		t.Fatalf("bob signed in: status %d, want the consent page", r.status)
	}
	p, _ = azParamsWith("web", "scope", "openid", "prompt", "none", "id_token_hint", aliceHint)
	if q := bob.authorize(p).callback(t, azCB); q.Get("error") != "login_required" || q.Get("iss") != s.URL {
		t.Fatalf("hint for another user, prompt=none: %v, want login_required with iss", q)
	}
	p, _ = azParamsWith("web", "scope", "openid", "id_token_hint", aliceHint)
	if page := bob.authorize(p); !page.isLogin() {
		t.Fatalf("hint for another user: status %d, want the login page", page.status)
	}

	// A forged or foreign hint is refused at the redirect URI.
	p, _ = azParamsWith("web", "scope", "openid", "id_token_hint", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	r := alice.authorize(p)
	if r.status != http.StatusSeeOther {
		t.Fatalf("forged hint: status %d, want a redirect", r.status)
	}
	if q := r.callback(t, azCB); q.Get("error") != "invalid_request" {
		t.Fatalf("forged hint: %v, want invalid_request", q)
	}
}
