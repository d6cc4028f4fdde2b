package server_test

// Helpers shared by the authorization-code tests (authz_*_test.go,
// browser_test.go and the fuzz target). Their names start with "az" so they
// never collide with helpers of other test files in this package.

import (
	"context"
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

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// azCB is the redirect URI of the tests' web client. Nothing listens there:
// the HTTP-level tests never follow the redirect to the client.
const azCB = "https://app.example/cb"

// azUser and azPassword sign in on every page.
const (
	azUser     = "alice"
	azPassword = "wonderland"
)

// azSetup is a running Latchkey with a confidential web client ("web",
// redirect azCB, scopes openid profile email read) and the user alice.
type azSetup struct {
	*testenv.Env
	secret string // of the client "web"
	user   store.User
}

func newAZ(t testing.TB, opts testenv.Options) *azSetup {
	t.Helper()
	env := testenv.New(t, opts)
	s := &azSetup{Env: env}
	s.secret = env.AddClient(t, azWebClient("web"))
	s.user = env.AddUser(t, azUser, azPassword, map[string]any{"name": "Alice Liddell", "email": "alice@example.com"})
	return s
}

func azWebClient(id string) store.Client {
	return store.Client{ID: id, Name: "Web " + id, GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "email", "read"}, RedirectURIs: []string{azCB}}
}

// azResp is a response with its body read.
type azResp struct {
	status int
	header http.Header
	body   string
}

func (r azResp) location() string { return r.header.Get("Location") }

// isLogin and isConsent tell the pages apart by the form they post.
func (r azResp) isLogin() bool {
	return r.status == http.StatusOK && strings.Contains(r.body, `action="/login"`)
}

func (r azResp) isConsent() bool {
	return r.status == http.StatusOK && strings.Contains(r.body, `action="/consent"`)
}

// callback parses a 303 to the client and returns its query; it fails the
// test for anything else or a Location outside want.
func (r azResp) callback(t testing.TB, want string) url.Values {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303 to the client; body:\n%.2000s", r.status, r.body)
	}
	loc := r.location()
	base, rawQuery, _ := strings.Cut(loc, "?")
	if base != want {
		t.Fatalf("redirected to %q, want %q", loc, want)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatalf("redirect query %q: %v", rawQuery, err)
	}
	return q
}

// azBrowser is a cookie-keeping HTTP client that never follows redirects,
// the way a test drives pages without a real browser.
type azBrowser struct {
	t   testing.TB
	env *azSetup
	c   *http.Client
}

func (s *azSetup) browser(t testing.TB) *azBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &azBrowser{t: t, env: s, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *azBrowser) do(req *http.Request) azResp {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return azResp{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *azBrowser) get(u string) azResp {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *azBrowser) post(u string, form url.Values) azResp {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// authorize sends params to /authorize with GET.
func (b *azBrowser) authorize(params url.Values) azResp {
	b.t.Helper()
	return b.get(b.env.URL + "/authorize?" + params.Encode())
}

// login fills the login page and posts it.
func (b *azBrowser) login(page azResp, username, pw string) azResp {
	b.t.Helper()
	if !page.isLogin() {
		b.t.Fatalf("not the login page: status %d\n%.2000s", page.status, page.body)
	}
	f := azHidden(b.t, page.body)
	f.Set("username", username)
	f.Set("password", pw)
	return b.post(b.env.URL+"/login", f)
}

// consent answers the consent page with decision (allow or deny).
func (b *azBrowser) consent(page azResp, decision string) azResp {
	b.t.Helper()
	if !page.isConsent() {
		b.t.Fatalf("not the consent page: status %d\n%.2000s", page.status, page.body)
	}
	f := azHidden(b.t, page.body)
	f.Set("decision", decision)
	return b.post(b.env.URL+"/consent", f)
}

// follow GETs the Location of a 303 inside Latchkey.
func (b *azBrowser) follow(r azResp) azResp {
	b.t.Helper()
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), b.env.URL+"/") {
		b.t.Fatalf("want a 303 inside Latchkey, got %d to %q\n%.2000s", r.status, r.location(), r.body)
	}
	return b.get(r.location())
}

// signIn runs /authorize with params, signs in as alice and allows on the
// consent page if it comes (testenv.Walker, which checks every step; each
// must stay inside Latchkey), and returns the redirect to the client.
func (b *azBrowser) signIn(params url.Values) azResp {
	b.t.Helper()
	return b.signInTo(params, params.Get("redirect_uri"))
}

// signInTo is signIn for a request whose redirect URI is not among its
// parameters (a pushed request used by reference).
func (b *azBrowser) signInTo(params url.Values, redirectURI string) azResp {
	b.t.Helper()
	w := testenv.Walker(b.c, azUser, azPassword)
	w.RedirectURI = redirectURI
	check := w.Before
	w.Before = func(s *formflow.Step) error {
		if !strings.HasPrefix(s.URL.String(), b.env.URL+"/") {
			return fmt.Errorf("the %s step goes to %s, outside Latchkey", s.Kind, s.URL)
		}
		return check(s)
	}
	res, err := w.Walk(context.Background(), b.env.URL+"/authorize?"+params.Encode())
	if err != nil {
		var f *formflow.Failure
		if errors.As(err, &f) {
			b.t.Fatalf("signing in: %v\n%.2000s", err, f.Body)
		}
		b.t.Fatalf("signing in: %v", err)
	}
	return azResp{status: res.Status, header: http.Header{"Location": {res.Location.String()}}}
}

// code runs the whole flow for params and returns the code.
func (b *azBrowser) code(params url.Values) string {
	b.t.Helper()
	q := b.signIn(params).callback(b.t, params.Get("redirect_uri"))
	if q.Get("code") == "" {
		b.t.Fatalf("no code in %v", q)
	}
	return q.Get("code")
}

// azHidden returns the csrf and request fields of a form page.
func azHidden(t testing.TB, body string) url.Values {
	t.Helper()
	v := url.Values{}
	if f, err := formflow.Parse([]byte(body), &url.URL{}); err == nil {
		for _, name := range []string{"csrf", "request"} {
			if fv := f.Values()[name]; len(fv) > 0 {
				v.Set(name, fv[0])
			}
		}
	}
	if v.Get("csrf") == "" || v.Get("request") == "" {
		t.Fatalf("no csrf and request fields in page:\n%.2000s", body)
	}
	return v
}

// azParams is a valid OpenID Connect authorization request of client "web"
// with a fresh PKCE verifier, returned beside it.
func azParams(clientID string) (url.Values, string) {
	verifier := oauth2.GenerateVerifier()
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {azCB},
		"scope":                 {"openid profile"},
		"state":                 {"st-" + verifier[:8]},
		"nonce":                 {"n-" + verifier[8:16]},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}, verifier
}

// azReq is a fresh valid request of clientID, when the verifier does not
// matter.
func azReq(clientID string) url.Values {
	p, _ := azParams(clientID)
	return p
}

// azParamsWith is azParams with the pairs key, value set (an empty value
// deletes the parameter).
func azParamsWith(clientID string, kv ...string) (url.Values, string) {
	p, verifier := azParams(clientID)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			p.Del(kv[i])
		} else {
			p.Set(kv[i], kv[i+1])
		}
	}
	return p, verifier
}

// azTokenJSON is the token endpoint's answer, success or error.
type azTokenJSON struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
}

// azPostToken posts form to /token, with Basic credentials when id is set.
func azPostToken(t testing.TB, env *testenv.Env, id, secret string, form url.Values) (azResp, azTokenJSON) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tok azTokenJSON
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatalf("token endpoint answered %d with non-JSON %q", resp.StatusCode, body)
	}
	return azResp{status: resp.StatusCode, header: resp.Header, body: string(body)}, tok
}

// azRedeem exchanges a code as client id with the verifier and azCB.
func azRedeem(t testing.TB, env *testenv.Env, id, secret, code, verifier string) (azResp, azTokenJSON) {
	t.Helper()
	return azPostToken(t, env, id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {azCB}, "code_verifier": {verifier}})
}

// azWantTokenError checks an RFC 6749 §5.2 error response.
func azWantTokenError(t *testing.T, r azResp, tok azTokenJSON, status int, code string) {
	t.Helper()
	if r.status != status || tok.Error != code || tok.AccessToken != "" {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q, want application/json", ct)
	}
}

// azActive asks /introspect (as the client that holds the token) whether
// tok is active.
func azActive(t *testing.T, env *testenv.Env, id, secret, tok string) bool {
	t.Helper()
	resp, err := http.PostForm(env.URL+"/introspect", url.Values{"client_id": {id}, "client_secret": {secret}, "token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Active *bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK || got.Active == nil {
		t.Fatalf("introspect: %d %v", resp.StatusCode, err)
	}
	return *got.Active
}

// azJWT decodes the header and claims of a JWT without verifying it (the
// tests that need a verified token use go-oidc).
func azJWT(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", raw)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err == nil {
			err = json.Unmarshal(b, dst)
		}
		if err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
	}
	return header, claims
}

// azConsented reports whether alice's consent to client is remembered.
func (s *azSetup) azConsented(t *testing.T, clientID string) bool {
	t.Helper()
	_, err := s.Store.GetConsent(context.Background(), s.user.ID, clientID)
	return err == nil
}
