package cluster

// The client side: token requests, introspection, revocation, and a
// browser that walks the authorization code flow through the login and
// consent pages, each step sent to the instance the test chooses.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// newHTTPClient is a client that never follows redirects and keeps enough
// idle connections for the load goroutines.
func newHTTPClient(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = newTransport()
	}
	return &http.Client{
		Transport:     rt,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 64
	return tr
}

// tokenResult is an answer of the token, introspection or revocation
// endpoint.
type tokenResult struct {
	Status           int    `json:"-"`
	RetryAfter       string `json:"-"`
	Body             string `json:"-"`
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	IDToken          string `json:"id_token"`
	Active           bool   `json:"active"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// String is the status and, for an error, the body; never a token.
func (r tokenResult) String() string {
	if r.ok() {
		return "200"
	}
	return fmt.Sprintf("%d %.300s", r.Status, strings.TrimSpace(r.Body))
}

// ok reports a 200 answer.
func (r tokenResult) ok() bool { return r.Status == http.StatusOK }

// is reports an error answer with that status and code.
func (r tokenResult) is(status int, code string) bool { return r.Status == status && r.Error == code }

// invalidGrant reports the answer to a spent code or refresh token.
func (r tokenResult) invalidGrant() bool { return r.is(http.StatusBadRequest, "invalid_grant") }

// postAs sends form to endpoint with c's credentials (client_secret_basic).
func postAs(ctx context.Context, hc *http.Client, endpoint string, c client, form url.Values) (tokenResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenResult{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	return doToken(hc, req)
}

// doToken sends req and decodes the JSON answer.
func doToken(hc *http.Client, req *http.Request) (tokenResult, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return tokenResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return tokenResult{}, err
	}
	r := tokenResult{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: string(b)}
	if len(strings.TrimSpace(r.Body)) > 0 {
		if err := json.Unmarshal(b, &r); err != nil {
			return r, fmt.Errorf("%s %s answered %d with a body that is not JSON: %.200s", req.Method, req.URL.Path, r.Status, b)
		}
	}
	return r, nil
}

func clientCredentials(ctx context.Context, hc *http.Client, base string, c client) (tokenResult, error) {
	return postAs(ctx, hc, base+"/token", c, url.Values{"grant_type": {"client_credentials"}})
}

func passwordGrant(ctx context.Context, hc *http.Client, base string, c client, user, pass string) (tokenResult, error) {
	return postAs(ctx, hc, base+"/token", c, url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}})
}

func refresh(ctx context.Context, hc *http.Client, base string, c client, rt string) (tokenResult, error) {
	return postAs(ctx, hc, base+"/token", c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func redeem(ctx context.Context, hc *http.Client, base string, g codeGrant) (tokenResult, error) {
	return postAs(ctx, hc, base+"/token", web, g.form())
}

func introspect(ctx context.Context, hc *http.Client, base, tok string) (tokenResult, error) {
	return postAs(ctx, hc, base+"/introspect", rs, url.Values{"token": {tok}})
}

func revoke(ctx context.Context, hc *http.Client, base string, c client, tok string) (tokenResult, error) {
	return postAs(ctx, hc, base+"/revoke", c, url.Values{"token": {tok}})
}

// codeGrant is a code the client received, with what redeeming it takes.
type codeGrant struct{ code, verifier string }

func (g codeGrant) form() url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {g.code},
		"redirect_uri": {redirectURI}, "code_verifier": {g.verifier}}
}

// hops names the instance each step of the flow goes to: the first GET
// /authorize, the login form, the GET /authorize the login redirects to,
// and the consent form.
type hops struct{ authorize, login, resume, consent string }

// via sends every step to base.
func via(base string) hops { return hops{base, base, base, base} }

// browser is one user agent: its own cookies, no redirects followed.
type browser struct {
	hc     *http.Client
	issuer string
}

func newBrowser(rt http.RoundTripper, issuer string) *browser {
	jar, _ := cookiejar.New(nil) // cookies ignore the port: one jar serves every instance
	hc := newHTTPClient(rt)
	hc.Jar = jar
	return &browser{hc: hc, issuer: issuer}
}

var (
	formRe   = regexp.MustCompile(`<form method="post" action="[^"]*/(login|consent)"`)
	hiddenRe = regexp.MustCompile(`name="(csrf|request)" value="([^"]*)"`)
)

// authorize walks the code flow for client web as user: GET /authorize,
// the login page when there is no session, the consent page when the
// user has not consented yet, and the redirect to the client, whose state
// and iss it checks. Every Location must point at the issuer (or the
// redirect URI); the browser follows it to the instance h names.
func (b *browser) authorize(ctx context.Context, h hops, user, pass string) (codeGrant, error) {
	verifier, challenge := pkce()
	state := randomString()
	q := url.Values{"response_type": {"code"}, "client_id": {web.id}, "redirect_uri": {redirectURI},
		"scope": {"openid read"}, "state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	method, target, form := http.MethodGet, h.authorize+"/authorize?"+q.Encode(), url.Values(nil)
	for range 6 {
		resp, body, err := b.do(ctx, method, target, form)
		if err != nil {
			return codeGrant{}, err
		}
		switch resp.StatusCode {
		case http.StatusSeeOther, http.StatusFound:
			loc := resp.Header.Get("Location")
			if strings.HasPrefix(loc, redirectURI+"?") {
				return finish(loc, state, b.issuer, verifier)
			}
			path, ok := strings.CutPrefix(loc, b.issuer+"/authorize?")
			if !ok {
				return codeGrant{}, fmt.Errorf("%s %s redirected to %q, not to the issuer %s", method, target, loc, b.issuer)
			}
			method, target, form = http.MethodGet, h.resume+"/authorize?"+path, nil
		case http.StatusOK:
			m := formRe.FindStringSubmatch(body)
			fields := hiddenRe.FindAllStringSubmatch(body, -1)
			if m == nil || len(fields) != 2 {
				return codeGrant{}, fmt.Errorf("%s %s: a page without the login or consent form:\n%.500s", method, target, body)
			}
			form = url.Values{}
			for _, f := range fields {
				form.Set(f[1], html.UnescapeString(f[2]))
			}
			method = http.MethodPost
			if m[1] == "login" {
				form.Set("username", user)
				form.Set("password", pass)
				target = h.login + "/login"
			} else {
				form.Set("decision", "allow")
				target = h.consent + "/consent"
			}
		default:
			return codeGrant{}, fmt.Errorf("%s %s answered %s: %.300s", method, target, resp.Status, body)
		}
	}
	return codeGrant{}, fmt.Errorf("the flow did not reach %s in 6 steps", redirectURI)
}

// do sends one browser request and reads the whole answer.
func (b *browser) do(ctx context.Context, method, target string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b2, err := io.ReadAll(resp.Body)
	return resp, string(b2), err
}

// finish reads the authorization response (RFC 6749 §4.1.2, RFC 9207).
func finish(loc, state, issuer, verifier string) (codeGrant, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return codeGrant{}, err
	}
	q := u.Query()
	if q.Get("state") != state || q.Get("iss") != issuer || q.Get("code") == "" {
		return codeGrant{}, fmt.Errorf("authorization response %s: want a code, state %q and iss %q", loc, state, issuer)
	}
	return codeGrant{code: q.Get("code"), verifier: verifier}, nil
}

// pkce returns a fresh verifier and its S256 challenge (RFC 7636 §4).
func pkce() (verifier, challenge string) {
	verifier = randomString()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// randomString is 32 random bytes in base64url.
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// mustOK fails the test unless the request got a 200.
func mustOK(t *testing.T, what string, r tokenResult, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !r.ok() {
		t.Fatalf("%s: %s, want 200", what, r)
	}
}

// wantActive introspects tok on in (as the resource server rs) and checks
// the answer's active member.
func wantActive(t *testing.T, in *instance, tok string, want bool) {
	t.Helper()
	r, err := introspect(context.Background(), newHTTPClient(nil), in.url, tok)
	if err != nil || !r.ok() || r.Active != want {
		t.Errorf("introspection on %s: %v %s, want active=%v", in.name, err, r, want)
	}
}

// wantInactiveSoon checks that tok turns inactive on in within 2 s. An
// instance that answered "active" before another instance revoked the
// token has the answer cached (for a minute in these tests): it must drop
// it when PostgreSQL announces the revocation (RFC 7009 §2 asks to keep
// the propagation delay short).
func wantInactiveSoon(t *testing.T, in *instance, tok string) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(2 * time.Second)
	for {
		r, err := introspect(context.Background(), newHTTPClient(nil), in.url, tok)
		if err == nil && r.ok() && !r.Active {
			t.Logf("inactive on %s %v after the revocation elsewhere answered", in.name, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("introspection on %s: %v %s, want inactive within 2 s of the revocation elsewhere", in.name, err, r)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// getJSON decodes the JSON answer to GET url into v.
func getJSON(t *testing.T, hc *http.Client, url string, v any) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// statusOf is resp's status, or "no response".
func statusOf(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

// userinfo calls the userinfo endpoint with tok and returns the status.
func userinfo(ctx context.Context, hc *http.Client, base, tok string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/userinfo", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// openLoginPage opens the login page for client web in br and returns its
// form, filled in with user and pass.
func openLoginPage(t *testing.T, br *browser, base, user, pass string) url.Values {
	t.Helper()
	_, challenge := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {web.id}, "redirect_uri": {redirectURI},
		"scope": {"openid read"}, "state": {"s"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	resp, body, err := br.do(context.Background(), http.MethodGet, base+"/authorize?"+q.Encode(), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the login page: %v %v", err, resp)
	}
	form := url.Values{"username": {user}, "password": {pass}}
	for _, f := range hiddenRe.FindAllStringSubmatch(body, -1) {
		form.Set(f[1], html.UnescapeString(f[2]))
	}
	if form.Get("csrf") == "" || form.Get("request") == "" {
		t.Fatalf("the login page has no csrf and request fields:\n%s", body)
	}
	return form
}
