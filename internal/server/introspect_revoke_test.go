package server_test

import (
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
	"net/http"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// grantFixture has a confidential client "app" with the password and
// refresh grants, a resource server "rs" allowed to introspect everything,
// a public client "spa", and a user.
type grantFixture struct {
	*fixture
	app, rs string
	alice   store.User
}

func newGrantFixture(t *testing.T, format string) grantFixture {
	return newGrantFixtureWith(t, format, nil)
}

// newGrantFixtureWith is newGrantFixture with configure applied to the
// configuration first.
func newGrantFixtureWith(t *testing.T, format string, configure func(*server.Config)) grantFixture {
	return newGrantFixtureOpts(t, format, testenv.Options{Configure: configure})
}

// newGrantFixtureOpts is newGrantFixture on an environment built with opts.
func newGrantFixtureOpts(t *testing.T, format string, opts testenv.Options) grantFixture {
	f := newFixtureOpts(t, opts)
	g := grantFixture{fixture: f, alice: f.AddUser(t, "alice", "wonderland", nil)}
	g.app = f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password", "refresh_token", "client_credentials"},
		Scopes: []string{"read", "write"}, AccessTokenFormat: format})
	g.rs = f.AddClient(t, store.Client{ID: "rs", GrantTypes: []string{"client_credentials"}, Introspection: true})
	f.AddClient(t, store.Client{ID: "spa", Public: true, GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"read"}})
	return g
}

// login runs the password grant as app (or, with a public client id, as
// that public client) and returns access and refresh token.
func (g grantFixture) login(t *testing.T) (at, rt string) {
	t.Helper()
	body := wantToken(t, post(t, g.Env, "/token", formOf("grant_type", "password", "username", "alice",
		"password", "wonderland", "scope", "read write"), basic("app", g.app)))
	return body["access_token"].(string), body["refresh_token"].(string)
}

func (g grantFixture) revoke(t *testing.T, tok, hint string) result {
	t.Helper()
	form := formOf("token", tok)
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return post(t, g.Env, "/revoke", form, basic("app", g.app))
}

func (g grantFixture) introspectAs(t *testing.T, caller, tok, hint string) result {
	t.Helper()
	secret := map[string]string{"app": g.app, "rs": g.rs}[caller]
	form := formOf("token", tok)
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return post(t, g.Env, "/introspect", form, basic(caller, secret))
}

func wantRevoked200(t *testing.T, r result) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("revoke: status %d: %s (S073)", r.Status, r.Body)
	}
}

// TestIntrospectionFullClaims checks an active answer carries the RFC 7662
// §2.2 members (S078) with no caching (S030), for both access token
// formats and for the refresh token.
func TestIntrospectionFullClaims(t *testing.T) {
	for _, format := range []string{"jwt", "opaque"} {
		t.Run(format, func(t *testing.T) {
			g := newGrantFixture(t, format)
			at, rt := g.login(t)
			r := g.introspectAs(t, "app", at, "")
			if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers: %v", r.Header)
			}
			got := r.JSON(t)
			want := map[string]any{"active": true, "scope": "read write", "client_id": "app", "username": "alice",
				"token_type": "Bearer", "sub": g.alice.ID, "iss": g.URL}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s = %v, want %v", k, got[k], w)
				}
			}
			for _, k := range []string{"exp", "iat", "jti", "aud"} {
				if got[k] == nil {
					t.Errorf("%s missing in %v", k, got)
				}
			}
			if exp, iat := got["exp"].(float64), got["iat"].(float64); exp-iat != 900 {
				t.Errorf("exp - iat = %v, want 900", exp-iat)
			}
			rtInfo := g.introspectAs(t, "app", rt, "").JSON(t)
			if rtInfo["active"] != true || rtInfo["token_type"] != nil || rtInfo["scope"] != "read write" {
				t.Errorf("refresh token introspection = %v", rtInfo)
			}
		})
	}
}

// TestIntrospectionHintIgnoredWhenWrong checks S076: a wrong or unknown
// token_type_hint does not stop the lookup.
func TestIntrospectionHintIgnoredWhenWrong(t *testing.T) {
	g := newGrantFixture(t, "jwt")
	at, rt := g.login(t)
	for _, tc := range []struct{ tok, hint string }{
		{at, "refresh_token"}, {rt, "access_token"}, {at, "id_token"}, {rt, "bogus"},
	} {
		if got := g.introspectAs(t, "app", tc.tok, tc.hint).JSON(t); got["active"] != true {
			t.Errorf("hint %s: %v", tc.hint, got)
		}
	}
}

// TestIntrospectionInactiveIsOnlyActiveFalse checks S079: expired,
// revoked, unknown and rotated tokens are {"active":false} and nothing
// else.
func TestIntrospectionInactiveIsOnlyActiveFalse(t *testing.T) {
	for _, format := range []string{"jwt", "opaque"} {
		t.Run(format, func(t *testing.T) {
			g := newGrantFixture(t, format)
			at, rt := g.login(t)
			wantInactive(t, g.introspectAs(t, "app", "lk_at_"+"A123456789012345678901234567890123456789012", "").JSON(t))
			wantInactive(t, g.introspectAs(t, "app", "eyJhbGciOiJub25lIn0.e30.", "").JSON(t))

			next := wantToken(t, post(t, g.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", rt), basic("app", g.app)))
			wantInactive(t, g.introspectAs(t, "app", rt, "").JSON(t)) // rotated

			wantRevoked200(t, g.revoke(t, next["access_token"].(string), ""))
			wantInactive(t, g.introspectAs(t, "app", next["access_token"].(string), "").JSON(t)) // revoked

			g.Clock.Advance(16 * time.Minute)
			wantInactive(t, g.introspectAs(t, "app", at, "").JSON(t)) // expired
			wantInactive(t, g.introspectAs(t, "rs", at, "").JSON(t))
		})
	}
}

// TestRevokeRefreshTokenRevokesGrant checks S072: revoking a refresh
// token (with any hint, S070) revokes its grant: every refresh token and
// access token issued under it.
func TestRevokeRefreshTokenRevokesGrant(t *testing.T) {
	for _, format := range []string{"jwt", "opaque"} {
		t.Run(format, func(t *testing.T) {
			g := newGrantFixture(t, format)
			at1, rt1 := g.login(t)
			next := wantToken(t, post(t, g.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", rt1), basic("app", g.app)))
			at2, rt2 := next["access_token"].(string), next["refresh_token"].(string)
			otherAT, _ := g.login(t) // another grant of the same user and client

			wantRevoked200(t, g.revoke(t, rt2, "access_token"))
			for name, tok := range map[string]string{"AT1": at1, "AT2": at2, "RT2": rt2} {
				if got := g.introspectAs(t, "rs", tok, "").JSON(t); len(got) != 1 || got["active"] != false {
					t.Errorf("%s after revoking RT2: %v (S072)", name, got)
				}
			}
			wantOAuthError(t, post(t, g.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", rt2),
				basic("app", g.app)), http.StatusBadRequest, "invalid_grant")
			if got := g.introspectAs(t, "rs", otherAT, "").JSON(t); got["active"] != true {
				t.Errorf("an unrelated grant was revoked too: %v", got)
			}
			// Revoking again is still 200 (S073).
			wantRevoked200(t, g.revoke(t, rt2, ""))
		})
	}
}

// TestRevokeJWTAccessToken checks S069 and S081: a revoked JWT access
// token is inactive at introspection although its signature still
// verifies against the JWKS: revocation lives in the store, by jti.
func TestRevokeJWTAccessToken(t *testing.T) {
	g := newGrantFixture(t, "jwt")
	at, rt := g.login(t)
	wantRevoked200(t, g.revoke(t, at, "refresh_token"))
	wantInactive(t, g.introspectAs(t, "rs", at, "").JSON(t))
	if v := verifyJWT(t, g.Env, at); v.Claims["client_id"] != "app" {
		t.Errorf("revoked JWT no longer verifies: %v", v.Claims)
	}
	// Revoking the access token leaves its refresh token (RFC 7009 §2.1: MAY).
	if got := g.introspectAs(t, "rs", rt, "").JSON(t); got["active"] != true {
		t.Errorf("refresh token after revoking its access token: %v", got)
	}
}

// TestRevokeByPublicClient checks RFC 7009 §2.1 for public clients: they
// identify with client_id and may revoke their own tokens.
func TestRevokeByPublicClient(t *testing.T) {
	c := newCodeFixture(t) // a public client gets tokens through the code grant only (S027)
	g := grantFixture{fixture: c.fixture, alice: c.alice,
		rs: c.AddClient(t, store.Client{ID: "rs", GrantTypes: []string{"client_credentials"}, Introspection: true})}
	code, verifier := c.issueCode(t, "spa", true)
	body := wantToken(t, c.redeem(t, "spa", code, verifier))
	rt := body["refresh_token"].(string)
	wantRevoked200(t, post(t, g.Env, "/revoke", formOf("token", rt, "client_id", "spa")))
	wantInactive(t, g.introspectAs(t, "rs", rt, "").JSON(t))
	wantInactive(t, g.introspectAs(t, "rs", body["access_token"].(string), "").JSON(t))
}

// TestRevokeAndIntrospectNeedToken checks RFC 7009 §2.1 and RFC 7662 §2.1:
// the token parameter is required.
func TestRevokeAndIntrospectNeedToken(t *testing.T) {
	g := newGrantFixture(t, "jwt")
	for _, path := range []string{"/revoke", "/introspect"} {
		wantOAuthError(t, post(t, g.Env, path, formOf("token_type_hint", "access_token"), basic("app", g.app)),
			http.StatusBadRequest, "invalid_request")
	}
}
