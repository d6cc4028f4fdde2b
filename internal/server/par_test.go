package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// Pushed authorization requests (RFC 9126): the endpoint, the request_uri
// at /authorize, and requiring them.

// push sends the authorization request params to /par as the client id
// with its secret (Basic), and returns the answer.
func push(t testing.TB, env *testenv.Env, id, secret string, params url.Values, opts ...reqOpt) result {
	t.Helper()
	return post(t, env, "/par", params, append([]reqOpt{basic(id, secret)}, opts...)...)
}

// requestURI checks a successful push (S181) and returns its request_uri.
func requestURI(t testing.TB, r result) string {
	t.Helper()
	if r.Status != http.StatusCreated {
		t.Fatalf("PAR: status %d, want 201: %s", r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("PAR headers: %v", r.Header)
	}
	body := r.JSON(t)
	uri, _ := body["request_uri"].(string)
	ref, ok := strings.CutPrefix(uri, "urn:ietf:params:oauth:request_uri:")
	if !ok || len(ref) < 43 {
		t.Errorf("request_uri %q, want urn:ietf:params:oauth:request_uri: and 32 random bytes (S181)", uri)
	}
	if body["expires_in"] != float64(60) {
		t.Errorf("expires_in = %v, want 60", body["expires_in"])
	}
	return uri
}

// byReference is the authorization request that uses a pushed one.
func byReference(clientID, uri string) url.Values {
	return url.Values{"client_id": {clientID}, "request_uri": {uri}}
}

// codeByReference runs the flow of a pushed request to azCB and returns
// the code.
func (b *azBrowser) codeByReference(clientID, uri string) string {
	b.t.Helper()
	q := b.signInTo(byReference(clientID, uri), azCB).callback(b.t, azCB)
	if q.Get("code") == "" {
		b.t.Fatalf("no code in %v", q)
	}
	return q.Get("code")
}

// TestPARFlow: a pushed request is used at /authorize by reference, the
// flow goes through login and consent to a code bound to what was pushed
// (the redirect URI, the PKCE challenge, the state), and the request_uri
// serves once (S180, S181, S184).
func TestPARFlow(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	params, verifier := azParams("web")
	uri := requestURI(t, push(t, s.Env, "web", s.secret, params))
	b := s.browser(t)
	q := b.signInTo(byReference("web", uri), azCB).callback(t, azCB)
	if q.Get("state") != params.Get("state") || q.Get("code") == "" || q.Get("iss") != s.URL {
		t.Fatalf("callback %v, want the pushed state, a code and iss", q)
	}
	if r, tok := azRedeem(t, s.Env, "web", s.secret, q.Get("code"), verifier); r.status != http.StatusOK || tok.IDToken == "" {
		t.Fatalf("redeem: %d %s", r.status, r.body)
	}
	// Used once: the same request_uri again is refused on a page, and
	// nothing is redirected (S184).
	r := b.authorize(byReference("web", uri))
	if r.status != http.StatusBadRequest || r.location() != "" || !strings.Contains(r.body, "Request expired") {
		t.Errorf("request_uri reused: %d %q", r.status, r.location())
	}
}

// TestPARRequestURIBinding: a request_uri of another client, an expired
// one, or one the server never made is refused; query parameters beside a
// request_uri cannot change the pushed request (S184).
func TestPARRequestURIBinding(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	other := s.AddClient(t, azWebClient("other"))
	b := s.browser(t)
	b.code(azReq("web")) // signed in and consented

	uri := requestURI(t, push(t, s.Env, "web", s.secret, azReq("web")))
	if r := b.authorize(byReference("other", uri)); r.status != http.StatusBadRequest || r.location() != "" {
		t.Errorf("another client's request_uri: %d %q", r.status, r.location())
	}
	// Still usable by its own client, and a redirect_uri added to the
	// query is ignored: the code goes where the pushed request said.
	ref := byReference("web", uri)
	ref.Set("redirect_uri", "https://evil.example/cb")
	ref.Set("scope", "openid email")
	q := b.signInTo(ref, azCB).callback(t, azCB)
	if q.Get("code") == "" {
		t.Errorf("own request_uri after another client tried it: %v", q)
	}

	uri = requestURI(t, push(t, s.Env, "other", other, azReq("other")))
	s.Clock.Advance(61 * time.Second)
	if r := b.authorize(byReference("other", uri)); r.status != http.StatusBadRequest || r.location() != "" {
		t.Errorf("expired request_uri: %d %q", r.status, r.location())
	}
}

// TestPAREndpointErrors: the PAR endpoint authenticates the client exactly
// like the token endpoint (S179), validates like /authorize and answers
// JSON errors (S180, S182), refuses request_uri, and stores nothing for a
// refused request.
func TestPAREndpointErrors(t *testing.T) {
	f := newFixture(t, generous)
	secret := f.AddClient(t, azWebClient("web"))
	before := f.countRows(t)
	good := azReq("web")
	with := func(kv ...string) url.Values {
		p := url.Values{}
		for k, v := range good {
			p[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				p.Del(kv[i])
			} else {
				p.Set(kv[i], kv[i+1])
			}
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		r      result
		status int
		code   string
	}{
		{"no client authentication (S179)", post(t, f.Env, "/par", good), 401, "invalid_client"},
		{"wrong secret", push(t, f.Env, "web", "wrong", good), 401, "invalid_client"},
		{"request_uri pushed (S180)", push(t, f.Env, "web", secret, with("request_uri", "urn:ietf:params:oauth:request_uri:x")), 400, "invalid_request"},
		{"unregistered redirect_uri (S180)", push(t, f.Env, "web", secret, with("redirect_uri", "https://evil.example/cb")), 400, "invalid_request"},
		{"no PKCE (S180)", push(t, f.Env, "web", secret, with("code_challenge", "")), 400, "invalid_request"},
		{"implicit", push(t, f.Env, "web", secret, with("response_type", "token")), 400, "unsupported_response_type"},
		{"unknown scope", push(t, f.Env, "web", secret, with("scope", "admin")), 400, "invalid_scope"},
		{"client_id of another client", push(t, f.Env, "web", secret, with("client_id", "other")), 400, "invalid_request"},
		{"repeated state", post(t, f.Env, "/par", url.Values{"state": {"a", "b"}, "client_id": {"web"}}, basic("web", secret)), 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantOAuthError(t, tc.r, tc.status, tc.code)
		})
	}
	if r := send(t, f.Env, http.MethodGet, "/par", "", ""); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET /par: %d, want 405 (S182)", r.Status)
	}
	big := with("state", strings.Repeat("x", 70<<10))
	if r := push(t, f.Env, "web", secret, big); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB push: %d, want 413 (S182)", r.Status)
	}
	if after := f.countRows(t); after["grants"] != before["grants"] || after["auth_codes"] != before["auth_codes"] {
		t.Errorf("refused pushes stored something: %v → %v", before, after)
	}
	if n := f.queryStrings(t, "SELECT digest FROM pushed_requests"); len(n) != 0 {
		t.Errorf("refused pushes stored %d requests", len(n))
	}
}

// TestPARRequired: with PAR required (for every client, or for one), a
// request sent to /authorize directly is refused with invalid_request,
// redirected once the redirect URI is verified (S185); the same request
// pushed works, and the metadata says so.
func TestPARRequired(t *testing.T) {
	for name, opts := range map[string]testenv.Options{
		"globally":   {Configure: func(c *server.Config) { c.PAR.Require = true }},
		"per client": {},
	} {
		t.Run(name, func(t *testing.T) {
			s := newAZ(t, opts)
			id := "web"
			if opts.Configure == nil {
				id = "parweb"
				c := azWebClient(id)
				c.RequirePAR = true
				s.secret = s.AddClient(t, c)
			}
			b := s.browser(t)
			params, verifier := azParams(id)
			q := b.authorize(params).callback(t, azCB)
			if q.Get("error") != "invalid_request" || q.Has("code") {
				t.Errorf("a direct request: %v, want invalid_request", q)
			}
			uri := requestURI(t, push(t, s.Env, id, s.secret, params))
			code := b.codeByReference(id, uri)
			if r, _ := azRedeem(t, s.Env, id, s.secret, code, verifier); r.status != http.StatusOK {
				t.Errorf("pushed: %d %s", r.status, r.body)
			}
			meta := send(t, s.Env, http.MethodGet, "/.well-known/openid-configuration", "", "").JSON(t)
			if meta["pushed_authorization_request_endpoint"] != s.URL+"/par" || meta["require_pushed_authorization_requests"] != (name == "globally") {
				t.Errorf("metadata: %v %v (S178, S185)", meta["pushed_authorization_request_endpoint"], meta["require_pushed_authorization_requests"])
			}
		})
	}
}

// TestPARCarriedParametersAreSealed: the parameters a pushed request's
// login form carries back cannot be altered in the browser; a changed
// redirect URI or scope fails instead of being taken as pushed.
func TestPARCarriedParametersAreSealed(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	c := azWebClient("parweb")
	c.RequirePAR = true
	s.secret = s.AddClient(t, c)
	uri := requestURI(t, push(t, s.Env, "parweb", s.secret, azReq("parweb")))
	b := s.browser(t)
	login := b.authorize(byReference("parweb", uri))
	form := azHidden(t, login.body)
	carried, err := url.ParseQuery(form.Get("request"))
	if err != nil || carried.Get("_pushed") == "" {
		t.Fatalf("the login form carries %v, want the pushed parameters with their seal", carried)
	}
	carried.Set("scope", "openid email read")
	form.Set("request", carried.Encode())
	form.Set("username", azUser)
	form.Set("password", azPassword)
	r := b.post(s.URL+"/login", form)
	if r.status != http.StatusForbidden || r.location() != "" || !strings.Contains(r.body, "This form has expired") {
		t.Fatalf("an altered pushed request: %d %q, want the expired-form page", r.status, r.location())
	}
	// Dropping the seal makes it a request that was not pushed, which this
	// client may not send (S185).
	carried.Del("_pushed")
	form.Set("request", carried.Encode())
	q := b.post(s.URL+"/login", form).callback(t, azCB)
	if q.Get("error") != "invalid_request" || q.Has("code") {
		t.Fatalf("a request without its seal: %v, want invalid_request", q)
	}
	// Unaltered, the same form signs in and goes on to consent.
	login = b.authorize(byReference("parweb", requestURI(t, push(t, s.Env, "parweb", s.secret, azReq("parweb")))))
	form = azHidden(t, login.body)
	form.Set("username", azUser)
	form.Set("password", azPassword)
	if next := b.follow(b.post(s.URL+"/login", form)); !next.isConsent() {
		t.Fatalf("the sealed request did not lead to consent: %d\n%.1000s", next.status, next.body)
	}
}

// TestPARBindsTheCodeToTheDPoPKey: a DPoP proof at the PAR endpoint binds
// the code like dpop_jkt (S173); a dpop_jkt that differs from the proof's
// key is refused.
func TestPARBindsTheCodeToTheDPoPKey(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	p := newProver(t, s.Clock)
	params, verifier := azParams("web")
	uri := requestURI(t, push(t, s.Env, "web", s.secret, params, header("DPoP", proof(t, p, s.Env, "POST", "/par", "", ""))))
	code := s.browser(t).codeByReference("web", uri)
	form := formOf("grant_type", "authorization_code", "code", code, "redirect_uri", azCB, "code_verifier", verifier)
	wantOAuthError(t, post(t, s.Env, "/token", form, basic("web", s.secret)), http.StatusBadRequest, "invalid_grant")
	wantBound(t, post(t, s.Env, "/token", form, basic("web", s.secret), header("DPoP", proof(t, p, s.Env, "POST", "/token", "", ""))), p.Thumbprint())

	other := newProver(t, s.Clock)
	params.Set("dpop_jkt", other.Thumbprint())
	r := push(t, s.Env, "web", s.secret, params, header("DPoP", proof(t, p, s.Env, "POST", "/par", "", "")))
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
	r = push(t, s.Env, "web", s.secret, params, header("DPoP", "garbage"))
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
}

// TestPARRateLimited: a client past its guessing limit is told 429 with
// Retry-After at the PAR endpoint (S182), even with the right secret.
func TestPARRateLimited(t *testing.T) {
	f := newFixture(t, func(c *server.Config) { c.Limits.PerClient = 2 })
	secret := f.AddClient(t, azWebClient("web"))
	for range 2 {
		wantOAuthError(t, push(t, f.Env, "web", "wrong", azReq("web")), http.StatusUnauthorized, "invalid_client")
	}
	r := push(t, f.Env, "web", secret, azReq("web"))
	wantOAuthError(t, r, http.StatusTooManyRequests, "invalid_request")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	f.Clock.Advance(16 * time.Minute) // past the window
	requestURI(t, push(t, f.Env, "web", secret, azReq("web")))
}
