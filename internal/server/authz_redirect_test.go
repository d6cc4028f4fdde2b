package server_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// azWantErrorPage checks STANDARDS §3's "error page": a 400 HTML page, no
// Location, and nothing of the attacker's value in the page.
func azWantErrorPage(t *testing.T, name string, r azResp, attacker string) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.location() != "" {
		t.Errorf("%s: got %d Location %q, want the 400 error page without redirect", name, r.status, r.location())
		return
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q, want an HTML page", name, ct)
	}
	if attacker != "" {
		for _, form := range []string{attacker, html.EscapeString(attacker), url.QueryEscape(attacker)} {
			if strings.Contains(r.body, form) {
				t.Errorf("%s: the error page repeats the attacker's value %q", name, form)
			}
		}
	}
	azOnlyLocalLinks(t, name, r.body)
}

var azLinkRe = regexp.MustCompile(`(?i)(href|src|action|formaction)\s*=\s*"([^"]*)"`)

// azOnlyLocalLinks checks that a page links nowhere but Latchkey's own
// paths (A5, A9, S124).
func azOnlyLocalLinks(t *testing.T, name, body string) {
	t.Helper()
	for _, m := range azLinkRe.FindAllStringSubmatch(body, -1) {
		if v := html.UnescapeString(m[2]); !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") {
			t.Errorf("%s: the page has %s=%q, which leaves Latchkey", name, m[1], v)
		}
	}
}

// TestAuthzRedirectURIManipulation is STANDARDS A4 (S010-S012, S099,
// S144): every variant of the registered https redirect URI gets the error
// page, with no redirect and nothing of the variant in the page.
func TestAuthzRedirectURIManipulation(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	b.code(azReq("web")) // alice is signed in and consented

	variants := []string{
		"https://app.example/cb/", "https://app.example/cb?x=1", "https://app.example/cb#f", "https://app.example/CB",
		"https://APP.example/cb", "https://app.example.evil/cb", "https://app.example@evil/cb",
		"https://app.example/cb/../evil", "https://app.example/cb%2f..", "http://app.example/cb",
		"https://app.example:443/cb", "https://app.example:8443/cb", "/cb", "//app.example/cb",
		"javascript:alert(1)//https://app.example/cb", "data:text/html,<script>alert(1)</script>",
		"https://app.example/cb\\@evil", " https://app.example/cb", "https://app.example/cb ",
		"HTTPS://app.example/cb", "https://app.example/c%62",
	}
	for _, v := range variants {
		params, _ := azParams("web")
		params.Set("redirect_uri", v)
		azWantErrorPage(t, "web "+v, b.authorize(params), v)
	}

	t.Run("the parameter twice", func(t *testing.T) {
		params, _ := azParams("web")
		params["redirect_uri"] = []string{azCB, "https://evil.example/cb"}
		azWantErrorPage(t, "twice", b.authorize(params), "https://evil.example/cb")
		params["redirect_uri"] = []string{azCB, azCB}
		azWantErrorPage(t, "twice, same value", b.authorize(params), "")
	})

	t.Run("empty value", func(t *testing.T) {
		// S007: an empty value is an omitted parameter. With a single
		// registered URI a plain OAuth request may omit it (RFC 6749
		// §3.1.2.3); an OpenID Connect request needs it (S219), and the
		// error goes to the registered URI only.
		params, _ := azParams("web")
		params.Set("redirect_uri", "")
		q := b.authorize(params).callback(t, azCB)
		if q.Get("error") != "invalid_request" || q.Has("code") {
			t.Errorf("OIDC without redirect_uri: %v, want invalid_request at the registered URI", q)
		}
		// With two registered URIs there is nothing to fall back to.
		s.AddClient(t, store.Client{ID: "two", GrantTypes: []string{"authorization_code"}, Scopes: []string{"read"},
			RedirectURIs: []string{azCB, "https://app.example/cb2"}})
		params, _ = azParams("two")
		params.Set("redirect_uri", "")
		params.Set("scope", "read")
		azWantErrorPage(t, "two registered, none given", b.authorize(params), "")
	})
}

// TestAuthzRedirectURILoopback is STANDARDS A4's loopback cases (S145,
// S208, RFC 8252 §7.3): with http://127.0.0.1/cb registered only the port
// may vary; another loopback host, path, query, scheme or localhost is
// refused with the error page.
func TestAuthzRedirectURILoopback(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	s.AddClient(t, store.Client{ID: "native", Public: true, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid"}, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	b := s.browser(t)
	b.code(azReq("web")) // alice is signed in
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"http://127.0.0.1/cb", true},
		{"http://127.0.0.1:53123/cb", true},
		{"http://127.0.0.1:1/cb", true},
		{"http://[::1]:53123/cb", false}, // another host than registered
		{"http://127.0.0.1:53123/cb2", false},
		{"http://127.0.0.1:53123/cb/", false},
		{"http://127.0.0.1:53123/cb?x=1", false},
		{"http://localhost:53123/cb", false},
		{"https://127.0.0.1:53123/cb", false},
		{"http://127.0.0.1:53123@evil.example/cb", false},
		{"http://evil.example@127.0.0.1:53123/cb", false},
		{"http://127.0.0.1:99999/cb", false},
		{"http://127.0.0.1:abc/cb", false},
		{"http://127.0.0.1.evil.example:53123/cb", false},
		{"http://127.0.0.1:53123/cb#f", false},
	} {
		params, _ := azParams("native")
		params.Set("redirect_uri", tc.uri)
		params.Set("scope", "openid")
		r := b.authorize(params)
		if !tc.ok {
			azWantErrorPage(t, "native "+tc.uri, r, tc.uri)
			continue
		}
		// Accepted: the flow goes on, and the code goes to this very URI.
		if r.isConsent() {
			r = b.consent(r, "allow")
		}
		if q := r.callback(t, tc.uri); q.Get("code") == "" || q.Get("iss") != s.URL {
			t.Errorf("native %s: %v", tc.uri, q)
		}
	}
}

// TestAuthzUnknownClient is STANDARDS A4's last case (S012): an unknown,
// missing, empty or repeated client_id gets the error page, whatever the
// redirect_uri.
func TestAuthzUnknownClient(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	for name, mod := range map[string]func(url.Values){
		"unknown":  func(p url.Values) { p.Set("client_id", "nobody") },
		"missing":  func(p url.Values) { p.Del("client_id") },
		"empty":    func(p url.Values) { p.Set("client_id", "") },
		"repeated": func(p url.Values) { p["client_id"] = []string{"web", "web"} },
	} {
		params, _ := azParams("web")
		params.Set("redirect_uri", "https://evil.example/cb")
		mod(params)
		azWantErrorPage(t, name+" client_id", b.authorize(params), "https://evil.example/cb")
		params.Set("redirect_uri", azCB)
		azWantErrorPage(t, name+" client_id, registered redirect_uri", b.authorize(params), "")
	}
}

// TestAuthzNoOpenRedirect is STANDARDS A5 (S020, S050, S100, S130, S156):
// with a valid client, errors — bad scope, response_type or prompt, a
// denial, prompt=none without a session — go only to the registered URI,
// with error, state and iss and nothing else.
func TestAuthzNoOpenRedirect(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	allowed := []string{"error", "error_description", "state", "iss"}
	for _, tc := range []struct {
		name, code string
		mod        func(url.Values)
	}{
		{"invalid scope", "invalid_scope", func(p url.Values) { p.Set("scope", "openid admin") }},
		{"response_type token", "unsupported_response_type", func(p url.Values) { p.Set("response_type", "token") }},
		{"response_type missing", "invalid_request", func(p url.Values) { p.Del("response_type") }},
		{"unknown prompt", "invalid_request", func(p url.Values) { p.Set("prompt", "evil") }},
		{"prompt none with another", "invalid_request", func(p url.Values) { p.Set("prompt", "none login") }},
		{"bad max_age", "invalid_request", func(p url.Values) { p.Set("max_age", "-1") }},
		{"prompt none, no session", "login_required", func(p url.Values) { p.Set("prompt", "none") }},
	} {
		params, _ := azParams("web")
		tc.mod(params)
		q := b.authorize(params).callback(t, azCB)
		if q.Get("error") != tc.code || q.Get("state") != params.Get("state") || q.Get("iss") != s.URL {
			t.Errorf("%s: %v, want error=%s with state and iss", tc.name, q, tc.code)
		}
		for k := range q {
			if !slices.Contains(allowed, k) {
				t.Errorf("%s: unexpected parameter %s in the error redirect", tc.name, k)
			}
		}
	}

	t.Run("deny", func(t *testing.T) {
		params, _ := azParams("web")
		page := b.follow(b.login(b.authorize(params), azUser, azPassword))
		q := b.consent(page, "deny").callback(t, azCB)
		if q.Get("error") != "access_denied" || q.Get("state") != params.Get("state") || q.Get("iss") != s.URL || q.Has("code") {
			t.Fatalf("deny: %v", q)
		}
	})
}

// TestAuthzLoginAndLogoutRedirects is the rest of STANDARDS A5 (S050,
// S100): the login form ignores a return_to and always resumes at the
// issuer's /authorize; logout redirects only to a post_logout_redirect_uri
// registered for the client the request names.
func TestAuthzLoginAndLogoutRedirects(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	s.AddClient(t, store.Client{ID: "rp", GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"},
		RedirectURIs: []string{azCB}, PostLogoutRedirectURIs: []string{"https://app.example/bye"}})
	b := s.browser(t)
	t.Run("login ignores return_to", func(t *testing.T) {
		fresh := s.browser(t)
		params, _ := azParams("web")
		page := fresh.get(s.URL + "/authorize?" + params.Encode() + "&return_to=https://evil.example/")
		f := azHidden(t, page.body)
		f.Set("username", azUser)
		f.Set("password", azPassword)
		f.Set("return_to", "https://evil.example/")
		r := fresh.post(s.URL+"/login?return_to=https://evil.example/", f)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), s.URL+"/authorize?") {
			t.Fatalf("login redirected to %q", r.location())
		}
		r = fresh.get(s.URL + "/login?return_to=https://evil.example/")
		if r.status != http.StatusMethodNotAllowed || r.location() != "" || strings.Contains(r.body, "evil.example") {
			t.Fatalf("GET /login: %d %q", r.status, r.location())
		}
	})

	t.Run("logout", func(t *testing.T) {
		for name, q := range map[string]url.Values{
			"unregistered, with client_id": {"client_id": {"rp"}, "post_logout_redirect_uri": {"https://evil.example"}},
			"unregistered, no client":      {"post_logout_redirect_uri": {"https://evil.example"}},
			"another client's URI":         {"client_id": {"web"}, "post_logout_redirect_uri": {"https://app.example/bye"}},
			"unknown client":               {"client_id": {"evil"}, "post_logout_redirect_uri": {"https://evil.example"}},
			"bad id_token_hint":            {"id_token_hint": {"e30.e30.sig"}, "post_logout_redirect_uri": {"https://app.example/bye"}},
		} {
			azWantErrorPage(t, "logout "+name, b.get(s.URL+"/logout?"+q.Encode()), "https://evil.example")
		}
		r := s.browser(t).get(s.URL + "/logout?" + url.Values{"client_id": {"rp"}, "post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"s 1"}}.Encode())
		if r.status != http.StatusSeeOther || r.location() != "https://app.example/bye?state=s+1" {
			t.Fatalf("registered post_logout_redirect_uri: %d %q", r.status, r.location())
		}
	})
}

// TestAuthzStateEcho is STANDARDS A7's first half (S016, S018, S101): state
// comes back byte for byte, on success and on error, and only when sent.
func TestAuthzStateEcho(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	long := strings.Repeat("x+%& =/?#", 56)[:500]
	for _, state := range []string{"a+b %20 c&d=e", "100% sure & more", long, " ", "é😀"} {
		params, _ := azParams("web")
		params.Set("state", state)
		q := b.signIn(params).callback(t, azCB)
		if q.Get("state") != state || q.Get("code") == "" {
			t.Errorf("state %q came back as %q", state, q.Get("state"))
		}
		params.Set("scope", "openid admin")
		if q = b.authorize(params).callback(t, azCB); q.Get("state") != state || q.Get("error") != "invalid_scope" {
			t.Errorf("error redirect: state %q came back as %q", state, q.Get("state"))
		}
	}
	params, _ := azParams("web")
	params.Del("state")
	if q := b.signIn(params).callback(t, azCB); q.Has("state") || q.Get("code") == "" {
		t.Errorf("no state sent, got %v", q)
	}
	params.Set("prompt", "bogus")
	if q := b.authorize(params).callback(t, azCB); q.Has("state") || q.Get("error") == "" {
		t.Errorf("no state sent, error redirect %v", q)
	}
}
