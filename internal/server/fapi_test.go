package server_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// The fapi2 profile: every server-side rule of the FAPI 2.0 Security
// Profile that applies, on a client registered with nothing but the
// profile, its keys and its redirect URI.

// fapiClient is a fapi2 client with a P-256 key for private_key_jwt.
type fapiClient struct {
	id  string
	key pkKey
}

func newFAPIClient(t *testing.T, env *testenv.Env, id string) fapiClient {
	t.Helper()
	c := fapiClient{id: id, key: newPKKey(t, jose.ES256, "k1")}
	env.AddClient(t, store.Client{ID: id, Profile: "fapi2", TokenEndpointAuthMethod: "private_key_jwt", JWKS: pkJWKS(t, c.key),
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "read"},
		RedirectURIs: []string{azCB}})
	return c
}

// assertion is a fresh client assertion for the issuer (S212, S214).
func (c fapiClient) assertion(t *testing.T, env *testenv.Env) string {
	t.Helper()
	return c.key.sign(t, pkClaims(env, c.id), nil)
}

// auth adds the client's credentials to form.
func (c fapiClient) auth(t *testing.T, env *testenv.Env, form url.Values) url.Values {
	t.Helper()
	form.Set("client_id", c.id)
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", c.assertion(t, env))
	return form
}

// TestFAPI2Profile walks the whole FAPI 2.0 flow and each rule of the
// profile: PAR only, private_key_jwt only, DPoP only, ES256 ID tokens,
// refresh tokens not rotated.
func TestFAPI2Profile(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	bank := newFAPIClient(t, s.Env, "bank")
	p := newProver(t, s.Clock)
	b := s.browser(t)

	// PAR is required (S185).
	params, verifier := azParams("bank")
	params.Set("scope", "openid read")
	if q := b.authorize(params).callback(t, azCB); q.Get("error") != "invalid_request" || q.Has("code") {
		t.Errorf("a request not pushed: %v, want invalid_request", q)
	}
	// A secret is no way in, even at the PAR endpoint.
	wantOAuthError(t, post(t, s.Env, "/par", params, basic("bank", "a-guessed-secret")), http.StatusUnauthorized, "invalid_client")

	pushed := bank.auth(t, s.Env, url.Values{})
	for k, v := range params {
		pushed[k] = v
	}
	uri := requestURI(t, post(t, s.Env, "/par", pushed, header("DPoP", proof(t, p, s.Env, "POST", "/par", "", ""))))
	code := b.codeByReference("bank", uri)

	redeem := func(opts ...reqOpt) result {
		form := bank.auth(t, s.Env, formOf("grant_type", "authorization_code", "code", code, "redirect_uri", azCB, "code_verifier", verifier))
		return post(t, s.Env, "/token", form, opts...)
	}
	wantOAuthError(t, redeem(), http.StatusBadRequest, "invalid_dpop_proof") // DPoP only (S165)
	body := wantBound(t, redeem(header("DPoP", proof(t, p, s.Env, "POST", "/token", "", ""))), p.Thumbprint())
	if h, _ := azJWT(t, body["id_token"].(string)); h["alg"] != "ES256" {
		t.Errorf("ID token alg %v, want ES256 (FAPI 2.0 §5.4: never RS256)", h["alg"])
	}
	if h, _ := azJWT(t, body["access_token"].(string)); h["alg"] == "RS256" {
		t.Errorf("access token alg RS256 under fapi2")
	}

	// Refresh tokens are not rotated (FAPI 2.0 §5.3.2.1): the same one
	// works again, and keeps being returned.
	rt := body["refresh_token"].(string)
	for i := range 2 {
		form := bank.auth(t, s.Env, formOf("grant_type", "refresh_token", "refresh_token", rt))
		r := post(t, s.Env, "/token", form, header("DPoP", proof(t, p, s.Env, "POST", "/token", "", "")))
		got := wantBound(t, r, p.Thumbprint())
		if got["refresh_token"] != rt {
			t.Errorf("refresh %d returned another refresh token", i+1)
		}
	}
	// Once the grant is revoked, the kept refresh token is dead.
	form := bank.auth(t, s.Env, formOf("token", rt))
	if r := post(t, s.Env, "/revoke", form); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	form = bank.auth(t, s.Env, formOf("grant_type", "refresh_token", "refresh_token", rt))
	wantOAuthError(t, post(t, s.Env, "/token", form, header("DPoP", proof(t, p, s.Env, "POST", "/token", "", ""))), http.StatusBadRequest, "invalid_grant")
}

// TestRefreshRotationChoice: refresh_token_rotation reuse keeps the
// refresh token of an ordinary client too.
func TestRefreshRotationChoice(t *testing.T) {
	d := newDPoPFixture(t, nil)
	c := codeFixture{fixture: d.fixture, app: d.web, alice: d.alice}
	web, err := d.Store.GetClient(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	web.RefreshRotation = "reuse"
	if err := d.Store.UpsertClient(t.Context(), web); err != nil {
		t.Fatal(err)
	}
	d.Clock.Advance(2 * time.Second) // past the read cache
	code, verifier := c.issueCode(t, "web", true)
	form := formOf("grant_type", "authorization_code", "code", code, "redirect_uri", codeRedirect, "code_verifier", verifier)
	body := wantToken(t, post(t, d.Env, "/token", form, basic("web", d.web)))
	rt := body["refresh_token"].(string)
	for range 2 {
		r := post(t, d.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", rt), basic("web", d.web))
		if got := wantToken(t, r)["refresh_token"]; got != rt {
			t.Fatalf("reuse: refresh returned %v, want the same token", got)
		}
	}
}
