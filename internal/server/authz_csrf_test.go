package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// azSetCookie returns the cookie named name that r sets, or nil.
func azSetCookie(r azResp, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// azRefused checks a refused form POST (A7): 403, no redirect, no session.
func azRefused(t *testing.T, name string, r azResp) {
	t.Helper()
	if r.status != http.StatusForbidden || r.location() != "" {
		t.Errorf("%s: got %d Location %q, want 403 without redirect", name, r.status, r.location())
	}
	if c := azSetCookie(r, "latchkey_session"); c != nil && c.Value != "" {
		t.Errorf("%s: a session cookie was set", name)
	}
}

// TestAuthzLoginCSRF is STANDARDS A7 for the login form (S047, S223): the
// form is refused without the token, with a wrong one, with another
// browser's, and from another site that cannot send the CSRF cookie.
func TestAuthzLoginCSRF(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	params, _ := azParams("web")
	victim, attacker := s.browser(t), s.browser(t)
	victimPage, attackerPage := victim.authorize(params), attacker.authorize(params)
	vf, af := azHidden(t, victimPage.body), azHidden(t, attackerPage.body)
	if vf.Get("csrf") == af.Get("csrf") {
		t.Fatal("two browsers got the same login CSRF token")
	}
	form := func(csrf string, set bool) url.Values {
		f := url.Values{"request": {vf.Get("request")}, "username": {azUser}, "password": {azPassword}}
		if set {
			f.Set("csrf", csrf)
		}
		return f
	}
	azRefused(t, "no token", victim.post(s.URL+"/login", form("", false)))
	azRefused(t, "empty token", victim.post(s.URL+"/login", form("", true)))
	azRefused(t, "wrong token", victim.post(s.URL+"/login", form(vf.Get("csrf")[1:]+"A", true)))
	azRefused(t, "another browser's token", victim.post(s.URL+"/login", form(af.Get("csrf"), true)))
	// A cross-site POST: the attacker's page copies a token, but the
	// browser sends the victim's cookie, or none at all.
	azRefused(t, "no CSRF cookie", s.browser(t).post(s.URL+"/login", form(vf.Get("csrf"), true)))

	// The same browser with its own token gets in: the refusals above were
	// about the token alone.
	r := victim.post(s.URL+"/login", form(vf.Get("csrf"), true))
	if r.status != http.StatusSeeOther || azSetCookie(r, "latchkey_session") == nil {
		t.Fatalf("the genuine login failed: %d", r.status)
	}
}

// TestAuthzConsentCSRF is STANDARDS A7 for the consent form: refused
// without the token, with a wrong one, with another session's and without
// the session cookie; no code is issued and no consent remembered.
func TestAuthzConsentCSRF(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	params, _ := azParams("web")
	victim, attacker := s.browser(t), s.browser(t)
	victimPage := victim.follow(victim.login(victim.authorize(params), azUser, azPassword))
	// The attacker signs in as well (even as the same user): another session.
	attackerPage := attacker.follow(attacker.login(attacker.authorize(params), azUser, azPassword))
	vf, af := azHidden(t, victimPage.body), azHidden(t, attackerPage.body)
	form := func(csrf string) url.Values {
		f := url.Values{"request": {vf.Get("request")}, "decision": {"allow"}}
		if csrf != "" {
			f.Set("csrf", csrf)
		}
		return f
	}
	azRefused(t, "no token", victim.post(s.URL+"/consent", form("")))
	azRefused(t, "wrong token", victim.post(s.URL+"/consent", form(strings.ToUpper(vf.Get("csrf")))))
	relogin := azParamsCopy(params)
	relogin.Set("prompt", "login")
	loginToken := azHidden(t, victim.authorize(relogin).body).Get("csrf")
	azRefused(t, "the login form's token", victim.post(s.URL+"/consent", form(loginToken)))
	azRefused(t, "another session's token", victim.post(s.URL+"/consent", form(af.Get("csrf"))))
	azRefused(t, "no session cookie", s.browser(t).post(s.URL+"/consent", form(vf.Get("csrf"))))
	if s.azConsented(t, "web") {
		t.Fatal("a refused consent POST was remembered")
	}
	q := victim.consent(victimPage, "allow").callback(t, azCB)
	if q.Get("code") == "" {
		t.Fatalf("the genuine consent failed: %v", q)
	}
}

func azParamsCopy(p url.Values) url.Values {
	out := url.Values{}
	for k, vs := range p {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// TestAuthzCookies checks the attributes of the CSRF and session cookies
// (A7, S047): HttpOnly and SameSite=Lax always, and Secure with the __Host-
// prefix when the issuer is https.
func TestAuthzCookies(t *testing.T) {
	for _, tc := range []struct {
		name, issuer, prefix string
		secure               bool
	}{
		{"http issuer", "", "", false},
		{"https issuer", "https://login.example.test", "__Host-", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testenv.Options{}
			if tc.issuer != "" {
				opts.Configure = func(c *server.Config) { c.Issuer = tc.issuer }
			}
			s := newAZ(t, opts)
			// Cookies are carried by hand: a Secure cookie never goes back
			// over the test's plain-http connection from a cookie jar.
			b := s.browser(t)
			b.c.Jar = nil
			params, _ := azParams("web")
			page := b.authorize(params)
			csrf := azCheckCookie(t, page, tc.prefix+"latchkey_csrf", tc.secure)
			f := azHidden(t, page.body)
			f.Set("username", azUser)
			f.Set("password", azPassword)
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/login", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(csrf)
			r := b.do(req)
			if r.status != http.StatusSeeOther {
				t.Fatalf("login: %d", r.status)
			}
			issuer := tc.issuer
			if issuer == "" {
				issuer = s.URL
			}
			if !strings.HasPrefix(r.location(), issuer+"/authorize?") {
				t.Fatalf("login redirected to %q, want the issuer's /authorize", r.location())
			}
			session := azCheckCookie(t, r, tc.prefix+"latchkey_session", tc.secure)
			// The server works under its https issuer: the session leads on
			// to the consent page.
			req, _ = http.NewRequest(http.MethodGet, s.URL+strings.TrimPrefix(r.location(), issuer), nil)
			req.AddCookie(session)
			if page := b.do(req); !page.isConsent() {
				t.Fatalf("after login: %d, want the consent page", page.status)
			}
		})
	}
}

func azCheckCookie(t *testing.T, r azResp, name string, secure bool) *http.Cookie {
	t.Helper()
	c := azSetCookie(r, name)
	if c == nil {
		t.Fatalf("no %s cookie in %v", name, r.header.Values("Set-Cookie"))
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie %s: HttpOnly=%v SameSite=%v Secure=%v Path=%q Domain=%q; want HttpOnly, Lax, Secure=%v, Path=/, no Domain",
			name, c.HttpOnly, c.SameSite, c.Secure, c.Path, c.Domain, secure)
	}
	if len(c.Value) < 43 {
		t.Errorf("cookie %s holds only %d characters", name, len(c.Value))
	}
	return c
}

// TestAuthzLogoutConfirmation checks RP-initiated logout without an
// id_token_hint (S100, A7): Latchkey asks first, and the confirmation is a
// CSRF-protected form, so another site cannot sign the user out; once
// confirmed, the session is gone.
func TestAuthzLogoutConfirmation(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	b.code(azReq("web"))
	page := b.get(s.URL + "/logout?state=bye")
	if page.status != http.StatusOK || !strings.Contains(page.body, `action="/logout"`) {
		t.Fatalf("GET /logout with a session: %d, want the confirmation page", page.status)
	}
	f := azHidden(t, page.body)
	f.Set("decision", "logout")
	for name, mod := range map[string]func(url.Values){
		"no token":    func(v url.Values) { v.Del("csrf") },
		"wrong token": func(v url.Values) { v.Set("csrf", otherFirst(v.Get("csrf"))) },
	} {
		forged := azParamsCopy(f)
		mod(forged)
		if r := b.post(s.URL+"/logout", forged); r.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, r.status)
		}
	}
	if r := s.browser(t).post(s.URL+"/logout", f); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST without the session cookie: %d, want 403", r.status)
	}
	// Still signed in after the forged attempts.
	p, _ := azParams("web")
	p.Set("prompt", "none")
	if q := b.authorize(p).callback(t, azCB); q.Get("code") == "" {
		t.Fatalf("a forged logout ended the session: %v", q)
	}
	r := b.post(s.URL+"/logout", f)
	if r.status != http.StatusOK || !strings.Contains(r.body, "You are signed out") {
		t.Fatalf("confirmed logout: %d", r.status)
	}
	if c := azSetCookie(r, "latchkey_session"); c == nil || c.MaxAge >= 0 {
		t.Errorf("the session cookie was not cleared: %v", c)
	}
	p, _ = azParams("web")
	p.Set("prompt", "none")
	if q := b.authorize(p).callback(t, azCB); q.Get("error") != "login_required" {
		t.Fatalf("after logout: %v, want login_required", q)
	}
}

// otherFirst is s with its first character replaced by a different one
// (a fixed replacement would leave s unchanged one time in 64).
func otherFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}
