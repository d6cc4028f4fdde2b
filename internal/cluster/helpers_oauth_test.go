package cluster

// The client side: token requests, introspection, revocation, and a
// browser that walks the authorization code flow through the login and
// consent pages (formflow), each step sent to the instance the test
// chooses.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/testenv"
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
	Backend          string `json:"-"` // the instance that served it, through the balancer
	RetryAfter       string `json:"-"`
	Resent           bool   `json:"-"` // a retrier sent it again after an attempt was cut off mid-request
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
	r := tokenResult{Status: resp.StatusCode, Backend: resp.Header.Get(backendHeader), RetryAfter: resp.Header.Get("Retry-After"), Body: string(b),
		Resent: resp.Header.Get(resentHeader) != ""}
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

// authorize walks the code flow for client web as user (testenv.Walker,
// which checks each of Latchkey's steps): GET /authorize, the login page
// when there is no session, the consent page when the user has not
// consented yet, and the redirect to the client, whose state and iss it
// checks. The redirect after the login must point at the issuer's
// /authorize; the browser sends each step to the instance h names.
func (b *browser) authorize(ctx context.Context, h hops, user, pass string) (codeGrant, error) {
	verifier, challenge := pkce()
	state := randomString()
	q := url.Values{"response_type": {"code"}, "client_id": {web.id}, "redirect_uri": {redirectURI},
		"scope": {"openid read"}, "state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	w := testenv.Walker(b.hc, user, pass)
	w.RedirectURI, w.MaxHops = redirectURI, 6
	check := w.Before
	w.Before = func(s *formflow.Step) error {
		var base string
		switch s.Kind {
		case formflow.Login:
			base = h.login
		case formflow.Redirect:
			if !strings.HasPrefix(s.URL.String(), b.issuer+"/authorize?") {
				return fmt.Errorf("redirected to %q, not to the issuer %s", s.URL, b.issuer)
			}
			base = h.resume
		case formflow.Consent:
			base = h.consent
		}
		if base != "" {
			s.URL = rebase(s.URL, base)
		}
		return check(s)
	}
	res, err := w.Walk(ctx, h.authorize+"/authorize?"+q.Encode())
	if err != nil {
		var f *formflow.Failure
		if errors.As(err, &f) && len(f.Body) > 0 {
			return codeGrant{}, fmt.Errorf("%w:\n%.500s", err, f.Body)
		}
		return codeGrant{}, err
	}
	if res.State != state || res.Iss != b.issuer || res.Code == "" {
		return codeGrant{}, fmt.Errorf("authorization response %s: want a code, state %q and iss %q", res.Location, state, b.issuer)
	}
	return codeGrant{code: res.Code, verifier: verifier}, nil
}

// rebase is u sent to base (http://127.0.0.1:PORT, an instance) instead.
func rebase(u *url.URL, base string) *url.URL {
	b, err := url.Parse(base)
	if err != nil {
		return u
	}
	moved := *u
	moved.Scheme, moved.Host = b.Scheme, b.Host
	return &moved
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
	page, err := formflow.Parse([]byte(body), resp.Request.URL)
	if err != nil || !page.Login {
		t.Fatalf("the login page has no login form (%v):\n%s", err, body)
	}
	form := url.Values{"username": {user}, "password": {pass}}
	for _, name := range []string{"csrf", "request"} {
		form[name] = page.Values()[name]
	}
	if form.Get("csrf") == "" || form.Get("request") == "" {
		t.Fatalf("the login page has no csrf and request fields:\n%s", body)
	}
	return form
}
