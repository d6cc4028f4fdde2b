package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// Resource indicators (RFC 8707): the resources a client may name, the
// audience of its tokens, and narrowing under a grant.

const (
	notesAPI    = "https://notes.example.com"
	calendarAPI = "https://calendar.example.com"
)

// audOf returns the aud of a JWT access token as a list.
func audOf(t *testing.T, at string) []string {
	t.Helper()
	_, claims := azJWT(t, at)
	switch a := claims["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			out = append(out, v.(string))
		}
		return out
	}
	t.Fatalf("aud = %v", claims["aud"])
	return nil
}

// TestResourcesAtTheTokenEndpoint: resource must be an absolute URI
// without a fragment that the client may ask for, else 400 invalid_target
// (S204); the token's aud is what was asked (S205), or the client's
// default without resource.
func TestResourcesAtTheTokenEndpoint(t *testing.T) {
	f := newFixture(t, generous)
	secret := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
		Resources: []string{notesAPI, calendarAPI}, Audience: []string{"https://default.example.com"}})
	tokenFor := func(resources ...string) result {
		form := formOf("grant_type", "client_credentials")
		for _, r := range resources {
			form.Add("resource", r)
		}
		return post(t, f.Env, "/token", form, basic("svc", secret))
	}
	for name, tc := range map[string]struct {
		ask, aud []string
	}{
		"none: the client's audience": {nil, []string{"https://default.example.com"}},
		"one (S205)":                  {[]string{notesAPI}, []string{notesAPI}},
		"two, repeated (S204)":        {[]string{notesAPI, calendarAPI}, []string{notesAPI, calendarAPI}},
		"a duplicate":                 {[]string{notesAPI, notesAPI}, []string{notesAPI}},
	} {
		if got := audOf(t, wantToken(t, tokenFor(tc.ask...))["access_token"].(string)); !slices.Equal(got, tc.aud) {
			t.Errorf("%s: aud %v, want %v", name, got, tc.aud)
		}
	}
	for name, bad := range map[string]string{
		"not allowed":  "https://other.example.com",
		"relative":     "/notes",
		"a fragment":   notesAPI + "#x",
		"another case": "https://NOTES.example.com",
	} {
		t.Run(name, func(t *testing.T) { wantOAuthError(t, tokenFor(bad), http.StatusBadRequest, "invalid_target") })
	}
}

// TestResourcesUnderACode: resource at /authorize is checked there (a bad
// one is redirected as invalid_target), bound to the code and the grant;
// the code exchange and every refresh may only narrow it (S206).
func TestResourcesUnderACode(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	c := azWebClient("api-web")
	c.Resources = []string{notesAPI, calendarAPI}
	secret := s.AddClient(t, c)
	b := s.browser(t)

	params, _ := azParams("api-web")
	params.Add("resource", "https://other.example.com")
	if q := b.signIn(params).callback(t, azCB); q.Get("error") != "invalid_target" || q.Has("code") {
		t.Errorf("a resource not allowed at /authorize: %v, want invalid_target (S204)", q)
	}

	params, verifier := azParams("api-web")
	params.Add("resource", notesAPI)
	params.Add("resource", calendarAPI)
	// The consent page names the resources the user grants access to.
	consent := b.login(b.authorize(params), azUser, azPassword)
	if consent.status == http.StatusSeeOther {
		consent = b.follow(consent)
	}
	if !consent.isConsent() || !strings.Contains(consent.body, notesAPI) || !strings.Contains(consent.body, calendarAPI) {
		t.Errorf("the consent page does not name the resources:\n%.2000s", consent.body)
	}
	code := b.code(params)
	redeem := func(resources ...string) result {
		form := formOf("grant_type", "authorization_code", "code", code, "redirect_uri", azCB, "code_verifier", verifier)
		for _, r := range resources {
			form.Add("resource", r)
		}
		return post(t, s.Env, "/token", form, basic("api-web", secret))
	}
	wantOAuthError(t, redeem("https://other.example.com"), http.StatusBadRequest, "invalid_target")
	body := wantToken(t, redeem(notesAPI)) // the refused attempt left the code (S143)
	if got := audOf(t, body["access_token"].(string)); !slices.Equal(got, []string{notesAPI}) {
		t.Errorf("code exchange narrowed to notes: aud %v", got)
	}

	rt := body["refresh_token"].(string)
	refresh := func(resources ...string) result {
		form := formOf("grant_type", "refresh_token", "refresh_token", rt)
		for _, r := range resources {
			form.Add("resource", r)
		}
		return post(t, s.Env, "/token", form, basic("api-web", secret))
	}
	wantOAuthError(t, refresh("https://other.example.com"), http.StatusBadRequest, "invalid_target")
	body = wantToken(t, refresh(calendarAPI)) // narrowing to the other one of the grant
	if got := audOf(t, body["access_token"].(string)); !slices.Equal(got, []string{calendarAPI}) {
		t.Errorf("refresh narrowed to calendar: aud %v", got)
	}
	rt = body["refresh_token"].(string)
	body = wantToken(t, refresh())
	if got := audOf(t, body["access_token"].(string)); !slices.Equal(got, []string{notesAPI, calendarAPI}) {
		t.Errorf("refresh without resource: aud %v, want all the grant holds", got)
	}

	// A code for which no resource was asked cannot gain one later.
	params, verifier = azParams("api-web")
	code = b.code(params)
	form := formOf("grant_type", "authorization_code", "code", code, "redirect_uri", azCB, "code_verifier", verifier, "resource", notesAPI)
	wantOAuthError(t, post(t, s.Env, "/token", form, basic("api-web", secret)), http.StatusBadRequest, "invalid_target")
}

// TestResourcesPushed: resource at the PAR endpoint is validated there and
// carried to the code.
func TestResourcesPushed(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	c := azWebClient("api-web")
	c.Resources = []string{notesAPI}
	secret := s.AddClient(t, c)
	params, verifier := azParams("api-web")
	bad := url.Values{}
	for k, v := range params {
		bad[k] = v
	}
	bad.Set("resource", calendarAPI)
	wantOAuthError(t, push(t, s.Env, "api-web", secret, bad), http.StatusBadRequest, "invalid_target")
	params.Set("resource", notesAPI)
	code := s.browser(t).codeByReference("api-web", requestURI(t, push(t, s.Env, "api-web", secret, params)))
	r, tok := azRedeem(t, s.Env, "api-web", secret, code, verifier)
	if r.status != http.StatusOK {
		t.Fatalf("redeem: %d %s", r.status, r.body)
	}
	if got := audOf(t, tok.AccessToken); !slices.Equal(got, []string{notesAPI}) {
		t.Errorf("aud %v, want the pushed resource", got)
	}
}
