package server_test

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testkit"
	"github.com/latchkey/latchkey/internal/token"
)

// The authorization endpoint is not part of these tests: codes are put in
// the store as the endpoint would leave them, and redeemed over HTTP.

const codeRedirect = "https://app.example/cb"

// codeFixture has a confidential client "app", a public client "spa"
// (both with the code and refresh grants) and a user.
type codeFixture struct {
	*fixture
	app   string
	alice store.User
}

func newCodeFixture(t *testing.T) codeFixture {
	f := newFixture(t, nil)
	c := codeFixture{fixture: f, alice: f.AddUser(t, "alice", "wonderland", map[string]any{"name": "Alice"})}
	for _, cl := range []store.Client{{ID: "app"}, {ID: "spa", Public: true}} {
		cl.GrantTypes = []string{"authorization_code", "refresh_token"}
		cl.Scopes = []string{"openid", "profile", "read"}
		cl.RedirectURIs = []string{codeRedirect}
		if secret := f.AddClient(t, cl); secret != "" {
			c.app = secret
		}
	}
	return c
}

// issueCode stores a fresh code for clientID with an S256 challenge of a
// new verifier, and returns code and verifier. withChallenge false stores
// a code without a challenge (a test-only back door, A3 (e)).
func (c codeFixture) issueCode(t *testing.T, clientID string, withChallenge bool) (code, verifier string) {
	t.Helper()
	code, digest, err := token.New(token.PrefixCode, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	verifier, _, err = token.New("", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := c.Clock.Now()
	rec := store.AuthCode{Digest: digest, ClientID: clientID, UserID: c.alice.ID, RedirectURI: codeRedirect,
		RedirectURIGiven: true, Scopes: []string{"openid", "read"}, Nonce: "n-0S6_WzA2Mj", AuthTime: now,
		CreatedAt: now, ExpiresAt: now.Add(60 * time.Second)}
	if withChallenge {
		rec.CodeChallenge = protocol.S256Challenge(verifier)
	}
	if err := c.Store.CreateAuthCode(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	return code, verifier
}

// redeem exchanges code as app (Basic) or, for "spa", with client_id.
func (c codeFixture) redeem(t *testing.T, clientID, code, verifier string, extra ...string) result {
	t.Helper()
	form := formOf("grant_type", "authorization_code", "code", code, "redirect_uri", codeRedirect)
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	if clientID == "app" {
		return post(t, c.Env, "/token", form, basic("app", c.app))
	}
	form.Set("client_id", clientID)
	return post(t, c.Env, "/token", form)
}

func (c codeFixture) active(t *testing.T, tok string) bool {
	t.Helper()
	return introspect(t, c.Env, "app", c.app, tok)["active"] == true
}

// TestCodeGrantIssuesTokens checks RFC 6749 §4.1.3 with PKCE (S067) for a
// confidential and a public client: access, refresh and ID token, with the
// nonce of the authorization request (S127).
func TestCodeGrantIssuesTokens(t *testing.T) {
	c := newCodeFixture(t)
	for _, client := range []string{"app", "spa"} {
		code, verifier := c.issueCode(t, client, true)
		body := wantToken(t, c.redeem(t, client, code, verifier))
		if body["refresh_token"] == nil || body["id_token"] == nil || body["scope"] != "openid read" {
			t.Errorf("%s: response %v", client, body)
		}
	}
}

// TestCodeReplayRevokesGrant checks S019, S142 and A1: a second, valid
// redemption is invalid_grant and revokes the tokens of the first.
func TestCodeReplayRevokesGrant(t *testing.T) {
	c := newCodeFixture(t)
	code, verifier := c.issueCode(t, "app", true)
	first := wantToken(t, c.redeem(t, "app", code, verifier))
	wantOAuthError(t, c.redeem(t, "app", code, verifier), http.StatusBadRequest, "invalid_grant")
	for _, k := range []string{"access_token", "refresh_token"} {
		if c.active(t, first[k].(string)) {
			t.Errorf("%s of the first redemption still active after the replay (S019)", k)
		}
	}
}

// TestCodeReplayInInvalidRequestRevokesNothing checks S143: a replay with
// a wrong verifier or wrong client is refused without revoking, so it
// cannot be used to cut off the legitimate client.
func TestCodeReplayInInvalidRequestRevokesNothing(t *testing.T) {
	c := newCodeFixture(t)
	code, verifier := c.issueCode(t, "app", true)
	first := wantToken(t, c.redeem(t, "app", code, verifier))
	_, otherVerifier := c.issueCode(t, "app", true)
	wantOAuthError(t, c.redeem(t, "app", code, otherVerifier), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, c.redeem(t, "spa", code, verifier), http.StatusBadRequest, "invalid_grant")
	if !c.active(t, first["access_token"].(string)) {
		t.Error("an invalid replay revoked the grant (S143)")
	}
}

// TestCodeRequestChecks checks A2 and A3: every mismatch is invalid_grant
// and leaves the code redeemable by its rightful request.
func TestCodeRequestChecks(t *testing.T) {
	c := newCodeFixture(t)
	cases := []struct {
		name   string
		client string
		mutate func(code, verifier string) (string, string, []string)
		code   string
	}{
		{"another client's code (S023, A2)", "spa", func(c, v string) (string, string, []string) { return c, v, nil }, "invalid_grant"},
		{"another verifier (S067, A2)", "app", func(c, v string) (string, string, []string) {
			other := "x" // change the first character, whatever it is
			if v[0] == 'x' {
				other = "y"
			}
			return c, other + v[1:], nil
		}, "invalid_grant"},
		{"no verifier (S104, A3 c)", "app", func(c, v string) (string, string, []string) { return c, "", nil }, "invalid_grant"},
		{"other redirect_uri (S043, A2)", "app", func(c, v string) (string, string, []string) {
			return c, v, []string{"redirect_uri", codeRedirect + "/"}
		}, "invalid_grant"},
		{"verifier of invalid syntax (S062)", "app", func(c, v string) (string, string, []string) {
			return c, v + "+/", nil
		}, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, verifier := c.issueCode(t, "app", true)
			badCode, badVerifier, extra := tc.mutate(code, verifier)
			wantOAuthError(t, c.redeem(t, tc.client, badCode, badVerifier, extra...), http.StatusBadRequest, tc.code)
			wantToken(t, c.redeem(t, "app", code, verifier))
		})
	}
	t.Run("redirect_uri omitted though the request had one (S022)", func(t *testing.T) {
		code, verifier := c.issueCode(t, "app", true)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
		wantOAuthError(t, post(t, c.Env, "/token", form, basic("app", c.app)), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("verifier for a code without a challenge (S105, A3 e)", func(t *testing.T) {
		code, verifier := c.issueCode(t, "app", false)
		wantOAuthError(t, c.redeem(t, "app", code, verifier), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("code without a challenge, no verifier (S139, S141)", func(t *testing.T) {
		code, _ := c.issueCode(t, "app", false)
		wantOAuthError(t, c.redeem(t, "app", code, ""), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("expired code (S017)", func(t *testing.T) {
		code, verifier := c.issueCode(t, "app", true)
		c.Clock.Advance(61 * time.Second)
		wantOAuthError(t, c.redeem(t, "app", code, verifier), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("missing code", func(t *testing.T) {
		wantOAuthError(t, post(t, c.Env, "/token", formOf("grant_type", "authorization_code"), basic("app", c.app)),
			http.StatusBadRequest, "invalid_request")
	})
}

// TestConcurrentCodeRedemption checks single use under concurrency: of
// several simultaneous redemptions exactly one gets tokens.
func TestConcurrentCodeRedemption(t *testing.T) {
	c := newCodeFixture(t)
	code, verifier := c.issueCode(t, "app", true)
	ok := 0
	for _, r := range testkit.AtOnce(4, func(int) result { return c.redeem(t, "app", code, verifier) }) {
		if r.Status == http.StatusOK {
			ok++
		} else {
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent redemptions succeeded, want 1", ok)
	}
}
