package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// azWantPageHeaders checks the headers every page and every redirect of
// the flow must carry: STANDARDS A9 (no Referer, no caching: S124, S030)
// and A10 (no framing: S048, S136, S137).
func azWantPageHeaders(t *testing.T, name string, r azResp) {
	t.Helper()
	want := map[string]string{
		"Referrer-Policy": "no-referrer",
		"Cache-Control":   "no-store",
		"X-Frame-Options": "DENY",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s (%d): %s is %q, want %q", name, r.status, k, got, v)
		}
	}
	csp := r.header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 {
			directives[f[0]] = strings.Join(f[1:], " ")
		}
	}
	if directives["frame-ancestors"] != "'none'" || directives["default-src"] != "'self'" {
		t.Errorf("%s (%d): Content-Security-Policy %q lacks frame-ancestors 'none' or default-src 'self'", name, r.status, csp)
	}
}

var azThirdPartyRe = regexp.MustCompile(`(?i)<script|<i?frame|<object|<embed|<base|<meta http-equiv="refresh"|url\(|@import`)

// TestAuthzPageHeaders is STANDARDS A9 and A10: every page of the flow,
// and every redirect it answers with, carries the security headers, and
// the HTML loads and links nothing from elsewhere.
func TestAuthzPageHeaders(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	params, _ := azParams("web")
	pages := map[string]azResp{}
	pages["login page"] = b.authorize(params)
	pages["login failure"] = b.login(pages["login page"], azUser, "wrong")
	pages["login redirect"] = b.login(pages["login page"], azUser, azPassword)
	pages["consent page"] = b.follow(pages["login redirect"])
	pages["code redirect"] = b.consent(pages["consent page"], "allow")
	pages["error redirect"] = b.authorize(url.Values{"client_id": {"web"}, "redirect_uri": {azCB}, "response_type": {"token"}})
	pages["error page"] = b.authorize(url.Values{"client_id": {"nobody"}})
	pages["malformed request page"] = b.get(s.URL + "/authorize?a=%zz")
	pages["GET /login"] = b.get(s.URL + "/login")
	pages["consent CSRF failure"] = b.post(s.URL+"/consent", url.Values{"decision": {"allow"}})
	pages["logout page"] = b.get(s.URL + "/logout")
	pages["logged out page"] = s.browser(t).get(s.URL + "/logout")
	for name, r := range pages {
		azWantPageHeaders(t, name, r)
		if r.status == http.StatusSeeOther {
			continue
		}
		if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: Content-Type %q", name, r.header.Get("Content-Type"))
		}
		if m := azThirdPartyRe.FindString(r.body); m != "" {
			t.Errorf("%s: the HTML holds %q: a script, a frame or an outside resource", name, m)
		}
		azOnlyLocalLinks(t, name, r.body)
	}
	if !pages["login failure"].isLogin() || !strings.Contains(pages["login failure"].body, "The username or password is incorrect.") {
		t.Errorf("wrong password: %d, want the login page with the generic message", pages["login failure"].status)
	}
}

// TestAuthzLoginAnswers303 is STANDARDS A20 (S103): the POST that carries
// the password answers 303 — a 307 or 308 would make the browser post the
// password again to the next address.
func TestAuthzLoginAnswers303(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	s.AddClient(t, store.Client{ID: "first", GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"},
		RedirectURIs: []string{azCB}, SkipConsent: true})
	b := s.browser(t)
	params, _ := azParams("web")
	if r := b.login(b.authorize(params), azUser, azPassword); r.status != http.StatusSeeOther {
		t.Fatalf("login POST: %d, want 303", r.status)
	}
	// Consent POST and a login that resumes to the client answer 303 too.
	params, _ = azParams("first")
	params.Set("scope", "openid")
	params.Set("prompt", "login")
	r := b.follow(b.login(b.authorize(params), azUser, azPassword))
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), azCB+"?") {
		t.Fatalf("skip-consent resume: %d %q", r.status, r.location())
	}
	params, _ = azParams("web")
	params.Set("prompt", "consent")
	if r := b.consent(b.authorize(params), "allow"); r.status != http.StatusSeeOther {
		t.Fatalf("consent POST: %d, want 303", r.status)
	}
}

// TestAuthzNoCORS is STANDARDS A22 (S120, S152): the authorization
// endpoint and its pages never allow another origin.
func TestAuthzNoCORS(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	params, _ := azParams("web")
	for _, path := range []string{"/authorize?" + params.Encode(), "/login", "/consent", "/logout"} {
		for _, method := range []string{http.MethodOptions, http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(method, s.URL+path, nil)
			req.Header.Set("Origin", "https://evil.example")
			if method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "content-type")
			}
			r := s.browser(t).do(req)
			for k := range r.header {
				if strings.HasPrefix(strings.ToLower(k), "access-control-") {
					t.Errorf("%s %s: %s: %s", method, path, k, r.header.Get(k))
				}
			}
		}
	}
}

// TestAuthzRequestParameters covers RFC 6749 §3.1 parameter rules: token
// response types are refused (S110), repeated parameters are
// invalid_request and unknown ones are ignored (S007), and POST works like
// GET (S006).
func TestAuthzRequestParameters(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	b.code(azReq("web")) // signed in and consented

	for _, rt := range []string{"token", "id_token token", "code token", "code id_token", "id_token", "none", "code code"} {
		params, _ := azParams("web")
		params.Set("response_type", rt)
		q := b.authorize(params).callback(t, azCB)
		if q.Get("error") != "unsupported_response_type" || q.Has("code") || q.Has("access_token") || q.Has("id_token") {
			t.Errorf("response_type %q: %v, want unsupported_response_type", rt, q)
		}
	}
	for _, name := range []string{"scope", "state", "response_type", "code_challenge", "nonce", "prompt", "max_age", "unknown"} {
		params, _ := azParams("web")
		params[name] = []string{"x", "x"}
		q := b.authorize(params).callback(t, azCB)
		if q.Get("error") != "invalid_request" || q.Has("code") {
			t.Errorf("%s twice: %v, want invalid_request", name, q)
		}
	}

	// OpenID Connect Core §6.1, §6.2 (S225): request objects are not
	// supported (request_parameter_supported: false), so using one is an
	// error rather than silently dropping what it says.
	params, _ := azParams("web")
	params.Set("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.")
	if q := b.authorize(params).callback(t, azCB); q.Get("error") != "request_not_supported" || q.Has("code") || q.Get("state") != params.Get("state") {
		t.Errorf("request: %v, want error=request_not_supported", q)
	}
	// A request_uri is only ever one the PAR endpoint handed out (RFC 9126
	// §4, S184): any other is refused on a page, since the request it
	// stands for, and so its redirect URI, is unknown.
	for _, uri := range []string{"https://app.example/req.jwt", "urn:ietf:params:oauth:request_uri:unknown"} {
		params, _ := azParams("web")
		params.Set("request_uri", uri)
		r := b.authorize(params)
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" || !strings.Contains(r.body, "Request expired") {
			t.Errorf("request_uri %s: status %d, Location %q, want the error page", uri, r.status, r.header.Get("Location"))
		}
	}

	params, verifier := azParams("web")
	params.Set("unknown_parameter", "value")
	params.Set("claims", `{"id_token":{"acr":{"essential":true}}}`)
	params.Set("display", "popup")
	params.Set("ui_locales", "fr")
	code := b.code(params)
	if r, tok := azRedeem(t, s.Env, "web", s.secret, code, verifier); r.status != http.StatusOK || tok.IDToken == "" {
		t.Fatalf("request with unknown parameters: %d %s", r.status, r.body)
	}

	t.Run("POST", func(t *testing.T) {
		fresh := s.browser(t)
		params, verifier := azParams("web")
		page := fresh.post(s.URL+"/authorize", params)
		if !page.isLogin() {
			t.Fatalf("POST /authorize: %d, want the login page", page.status)
		}
		q := fresh.follow(fresh.login(page, azUser, azPassword)).callback(t, azCB)
		if q.Get("state") != params.Get("state") {
			t.Fatalf("POST flow: %v", q)
		}
		if r, tok := azRedeem(t, s.Env, "web", s.secret, q.Get("code"), verifier); r.status != http.StatusOK || tok.IDToken == "" {
			t.Fatalf("code from a POST request: %d %s", r.status, r.body)
		}
	})
}

// TestAuthzNoSecretsInLogs is the log half of STANDARDS A9 (S044, S128):
// after a whole flow — a wrong password, login, consent, redemption,
// userinfo and a code replay — the log holds no password, code, token,
// cookie or client secret.
func TestAuthzNoSecretsInLogs(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	params, verifier := azParams("web")
	page := b.authorize(params)
	b.login(page, azUser, "wrong-password-value")
	consent := b.follow(b.login(page, azUser, azPassword))
	csrf := azHidden(t, consent.body).Get("csrf")
	code := b.consent(consent, "allow").callback(t, azCB).Get("code")
	_, tok := azRedeem(t, s.Env, "web", s.secret, code, verifier)
	azUserinfo(t, s.Env, http.MethodGet, tok.AccessToken, false)
	azRedeem(t, s.Env, "web", s.secret, code, verifier) // replay: logged as a warning

	u, _ := url.Parse(s.URL)
	secrets := map[string]string{"password": azPassword, "wrong password": "wrong-password-value", "code": code,
		"verifier": verifier, "access token": tok.AccessToken, "refresh token": tok.RefreshToken,
		"ID token": tok.IDToken, "client secret": s.secret, "consent CSRF token": csrf}
	for _, c := range b.c.Jar.Cookies(u) {
		secrets["cookie "+c.Name] = c.Value
	}
	logs := s.Logs.String()
	if !strings.Contains(logs, "authorization code replayed") {
		t.Fatal("the log misses the replay warning: is it captured at all?")
	}
	for name, v := range secrets {
		if v == "" {
			t.Fatalf("%s is empty: the flow did not get that far", name)
		}
		if strings.Contains(logs, v) {
			t.Errorf("the log holds the %s", name)
		}
	}
}
