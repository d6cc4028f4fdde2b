package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/token"
)

// TestAuthzCodeReplay is STANDARDS A1 (S019, S042, S125, S142, S143): a
// second redemption of a code is refused with invalid_grant and revokes what
// the first one issued — but only when the replay is otherwise valid; a
// replay with a wrong verifier or a wrong client secret changes nothing.
func TestAuthzCodeReplay(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{{"at once", 0}, {"after 30 s", 30 * time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newAZ(t, testenv.Options{})
			params, verifier := azParams("web")
			code := s.browser(t).code(params)
			r, first := azRedeem(t, s.Env, "web", s.secret, code, verifier)
			if r.status != http.StatusOK || first.AccessToken == "" || first.RefreshToken == "" {
				t.Fatalf("first redemption: %d %s", r.status, r.body)
			}
			s.Clock.Advance(tc.delay)

			// Invalid replays (S143): refused, and the first tokens still work.
			r, tok := azRedeem(t, s.Env, "web", s.secret, code, oauth2.GenerateVerifier())
			azWantTokenError(t, r, tok, http.StatusBadRequest, "invalid_grant")
			r, tok = azRedeem(t, s.Env, "web", "lk_cs_wrong-secret", code, verifier)
			azWantTokenError(t, r, tok, http.StatusUnauthorized, "invalid_client")
			if !azActive(t, s.Env, "web", s.secret, first.AccessToken) || !azActive(t, s.Env, "web", s.secret, first.RefreshToken) {
				t.Fatal("S143: an invalid replay revoked the tokens of the first redemption")
			}

			// A valid replay: invalid_grant, and everything from the code is revoked.
			r, tok = azRedeem(t, s.Env, "web", s.secret, code, verifier)
			azWantTokenError(t, r, tok, http.StatusBadRequest, "invalid_grant")
			if azActive(t, s.Env, "web", s.secret, first.AccessToken) {
				t.Error("A1: the access token of the first redemption is still active")
			}
			if azActive(t, s.Env, "web", s.secret, first.RefreshToken) {
				t.Error("A1: the refresh token of the first redemption is still active")
			}
			r, tok = azPostToken(t, s.Env, "web", s.secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}})
			azWantTokenError(t, r, tok, http.StatusBadRequest, "invalid_grant")
			// A resource server asking Latchkey (here: userinfo) refuses it too.
			if r, _ := azUserinfo(t, s.Env, http.MethodGet, first.AccessToken, false); r.status != http.StatusUnauthorized {
				t.Errorf("A1: userinfo accepted the revoked access token: %d", r.status)
			}
		})
	}
}

// TestAuthzCodeInjection is STANDARDS A2 (S014, S023, S034, S043, S067): a
// code redeemed by another client, with another valid verifier, with
// another redirect_uri, or (for a public client) without client_id is
// refused, and the code still works for the legitimate request afterwards.
func TestAuthzCodeInjection(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	otherSecret := s.AddClient(t, azWebClient("other"))
	s.AddClient(t, store.Client{ID: "spa", Public: true, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid", "profile"}, RedirectURIs: []string{azCB}})

	t.Run("confidential", func(t *testing.T) {
		params, verifier := azParams("web")
		code := s.browser(t).code(params)
		form := func(mod func(url.Values)) url.Values {
			f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {azCB}, "code_verifier": {verifier}}
			mod(f)
			return f
		}
		for _, tc := range []struct {
			name, id, secret string
			form             url.Values
			status           int
			code             string
		}{
			{"client B with its own credentials", "other", otherSecret, form(func(url.Values) {}), 400, "invalid_grant"},
			{"another valid verifier", "web", s.secret, form(func(f url.Values) { f.Set("code_verifier", oauth2.GenerateVerifier()) }), 400, "invalid_grant"},
			{"another redirect_uri", "web", s.secret, form(func(f url.Values) { f.Set("redirect_uri", azCB+"/other") }), 400, "invalid_grant"},
			{"redirect_uri left out", "web", s.secret, form(func(f url.Values) { f.Del("redirect_uri") }), 400, "invalid_grant"},
			{"as a public client (client_id, no secret)", "", "", form(func(f url.Values) { f.Set("client_id", "web") }), 401, "invalid_client"},
			{"without any client", "", "", form(func(url.Values) {}), 401, "invalid_client"},
		} {
			r, tok := azPostToken(t, s.Env, tc.id, tc.secret, tc.form)
			if r.status != tc.status || tok.Error != tc.code {
				t.Errorf("%s: got %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
			}
		}
		r, tok := azRedeem(t, s.Env, "web", s.secret, code, verifier)
		if r.status != http.StatusOK || tok.AccessToken == "" {
			t.Fatalf("A2: the legitimate redemption after the attacks failed: %d %s", r.status, r.body)
		}
	})

	t.Run("public", func(t *testing.T) {
		params, verifier := azParams("spa")
		code := s.browser(t).code(params)
		base := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {azCB}, "code_verifier": {verifier}}
		r, tok := azPostToken(t, s.Env, "", "", base)
		azWantTokenError(t, r, tok, http.StatusUnauthorized, "invalid_client")
		r, tok = azPostToken(t, s.Env, "other", otherSecret, base)
		azWantTokenError(t, r, tok, http.StatusBadRequest, "invalid_grant")

		base.Set("client_id", "spa")
		r, tok = azPostToken(t, s.Env, "", "", base)
		if r.status != http.StatusOK || tok.AccessToken == "" || tok.IDToken == "" {
			t.Fatalf("A2: the public client's own redemption failed: %d %s", r.status, r.body)
		}
	})
}

// TestAuthzPKCERequired is STANDARDS A3 (a), (b) and (d) (S062-S066,
// S107, S109, S140): every authorization request needs an S256 challenge
// of 43-128 unreserved characters, else invalid_request with state and iss.
func TestAuthzPKCERequired(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	for _, tc := range []struct {
		name string
		mod  func(url.Values)
	}{
		{"(a) no code_challenge", func(p url.Values) { p.Del("code_challenge"); p.Del("code_challenge_method") }},
		{"(b) no method, which means plain", func(p url.Values) { p.Del("code_challenge_method") }},
		{"(b) method plain", func(p url.Values) { p.Set("code_challenge_method", "plain") }},
		{"(b) method s256 (case)", func(p url.Values) { p.Set("code_challenge_method", "s256") }},
		{"(d) challenge of 42 characters", func(p url.Values) { p.Set("code_challenge", strings.Repeat("a", 42)) }},
		{"(d) challenge with +", func(p url.Values) { p.Set("code_challenge", strings.Repeat("a", 42)+"+") }},
		{"(d) challenge with /", func(p url.Values) { p.Set("code_challenge", "/"+strings.Repeat("a", 42)) }},
		{"(d) challenge of 129 characters", func(p url.Values) { p.Set("code_challenge", strings.Repeat("a", 129)) }},
	} {
		params, _ := azParams("web")
		tc.mod(params)
		// The request is refused before any page is shown.
		q := b.authorize(params).callback(t, azCB)
		if q.Get("error") != "invalid_request" || q.Get("state") != params.Get("state") || q.Get("iss") != s.URL || q.Has("code") {
			t.Errorf("%s: redirect %v, want error=invalid_request with state and iss", tc.name, q)
		}
	}
}

// TestAuthzPKCEAtTokenEndpoint is STANDARDS A3 (c), (e) and (f) (S067,
// S068, S104, S105, S141): the verifier is enforced, a verifier for a code
// without challenge is refused, and a challenge serves one code only.
func TestAuthzPKCEAtTokenEndpoint(t *testing.T) {
	s := newAZ(t, testenv.Options{})

	t.Run("(c) no verifier", func(t *testing.T) {
		params, verifier := azParams("web")
		code := s.browser(t).code(params)
		r, tok := azPostToken(t, s.Env, "web", s.secret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {azCB}})
		azWantTokenError(t, r, tok, http.StatusBadRequest, "invalid_grant")
		if r, _ = azRedeem(t, s.Env, "web", s.secret, code, verifier); r.status != http.StatusOK {
			t.Fatalf("the refused request used up the code: %d %s", r.status, r.body)
		}
	})

	t.Run("(e) verifier for a code without challenge", func(t *testing.T) {
		value := token.PrefixCode + strings.Repeat("e", 43) // made through the back door
		now := s.Clock.Now()
		err := s.Store.CreateAuthCode(context.Background(), store.AuthCode{Digest: token.Digest(value), ClientID: "web",
			UserID: s.user.ID, RedirectURI: azCB, RedirectURIGiven: true, CodeChallenge: "", Scopes: []string{"openid"},
			AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		r, tok := azRedeem(t, s.Env, "web", s.secret, value, oauth2.GenerateVerifier())
		azWantTokenError(t, r, tok, http.StatusBadRequest, "invalid_grant")
	})

	t.Run("(f) challenge reused by the same client", func(t *testing.T) {
		params, _ := azParams("web")
		b := s.browser(t)
		b.code(params)
		params.Set("state", "second")
		q := b.authorize(params).callback(t, azCB)
		if q.Get("error") != "invalid_request" || q.Has("code") || q.Get("state") != "second" {
			t.Fatalf("S068: a reused code_challenge got %v, want error=invalid_request", q)
		}
	})
}
