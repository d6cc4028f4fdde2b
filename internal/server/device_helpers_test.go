package server_test

// Helpers shared by the device grant tests (device_*_test.go,
// attack_device_test.go). Their names start with "dv" so they never
// collide with helpers of other test files in this package.

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// The tests' user signs in with these.
const (
	dvUser     = "alice"
	dvPassword = "wonderland"
)

// dvAPI is the resource the device's tokens may be for.
const dvAPI = "https://api.example/"

// userCodeRE is the shape of a user code as shown (S193).
var userCodeRE = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// dvSetup is a running Latchkey with a public device client "tv" (which
// may refresh), a confidential one "box" (which may not), a web client
// "web" without the device grant, and the user alice.
type dvSetup struct {
	*fixture
	boxSecret, webSecret, rsSecret string
	user                           store.User
}

func newDV(t testing.TB, configure func(*server.Config)) *dvSetup {
	t.Helper()
	return newDVOpts(t, testenv.Options{Configure: configure})
}

func newDVOpts(t testing.TB, opts testenv.Options) *dvSetup {
	t.Helper()
	return newDVOn(t, newFixtureOpts(t, opts))
}

// newDVOn adds the device tests' clients and user to f's store.
func newDVOn(t testing.TB, f *fixture) *dvSetup {
	t.Helper()
	s := &dvSetup{fixture: f}
	s.AddClient(t, dvTV())
	s.boxSecret = s.AddClient(t, store.Client{ID: "box", Name: "Set-top Box", GrantTypes: []string{protocol.GrantDeviceCode},
		Scopes: []string{"read"}})
	s.webSecret = s.AddClient(t, azWebClient("web"))
	s.rsSecret = s.AddClient(t, store.Client{ID: "rs", GrantTypes: []string{protocol.GrantClientCredentials}, Introspection: true})
	s.user = s.AddUser(t, dvUser, dvPassword, map[string]any{"name": "Alice Liddell", "email": "alice@example.com"})
	return s
}

// dvTV is the public device client: a TV app.
func dvTV() store.Client {
	return store.Client{ID: "tv", Name: "Living Room TV", Public: true,
		GrantTypes: []string{protocol.GrantDeviceCode, protocol.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "read", "offline_access"}, Resources: []string{dvAPI, "https://files.example/"}}
}

// dvAuthorization is a device authorization response as the device reads it.
type dvAuthorization struct {
	DeviceCode, UserCode, VerificationURI, VerificationURIComplete string
	ExpiresIn, Interval                                            float64
}

// authorize asks /device_authorization for a code as the client of form
// and fails unless it gets one (S188).
func (s *dvSetup) authorize(t testing.TB, form url.Values, opts ...reqOpt) dvAuthorization {
	t.Helper()
	r := post(t, s.Env, "/device_authorization", form, opts...)
	if r.Status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", r.Status, r.Body)
	}
	for name, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("device authorization: %s = %q, want %q (S188)", name, got, want)
		}
	}
	b := r.JSON(t)
	str := func(k string) string { v, _ := b[k].(string); return v }
	num := func(k string) float64 { v, _ := b[k].(float64); return v }
	a := dvAuthorization{DeviceCode: str("device_code"), UserCode: str("user_code"), VerificationURI: str("verification_uri"),
		VerificationURIComplete: str("verification_uri_complete"), ExpiresIn: num("expires_in"), Interval: num("interval")}
	if a.DeviceCode == "" || !userCodeRE.MatchString(a.UserCode) || a.VerificationURI == "" || a.ExpiresIn <= 0 {
		t.Fatalf("device authorization response %s lacks a REQUIRED member or its user code is not BCDF-GHJK (S188, S193)", r.Body)
	}
	return a
}

// tvAuthorize asks for a code as the public client tv.
func (s *dvSetup) tvAuthorize(t testing.TB, scope string, extra ...string) dvAuthorization {
	t.Helper()
	return s.authorize(t, formOf(append([]string{"client_id", "tv", "scope", scope}, extra...)...))
}

// poll sends the device's token request (RFC 8628 §3.4, S189) as the
// public client id.
func (s *dvSetup) poll(t testing.TB, clientID, deviceCode string, opts ...reqOpt) result {
	t.Helper()
	return post(t, s.Env, "/token", formOf("grant_type", protocol.GrantDeviceCode, "device_code", deviceCode, "client_id", clientID), opts...)
}

// wantPoll checks a poll's error answer (S190).
func (s *dvSetup) wantPoll(t testing.TB, r result, code string) {
	t.Helper()
	wantOAuthError(t, r, http.StatusBadRequest, code)
}

// dvPage is one answer to the browser, read completely.
type dvPage struct {
	status int
	header http.Header
	body   string
	url    *url.URL // what was asked for
}

// is reports whether the page is the one with form action path.
func (p dvPage) is(path string) bool {
	return p.status == http.StatusOK && strings.Contains(p.body, `action="`+path+`"`)
}

// dvBrowser is a cookie-keeping HTTP client that never follows redirects
// by itself, and fills in the device pages through formflow, which reads
// forms as a browser does.
type dvBrowser struct {
	t testing.TB
	c *http.Client
	// route, when set, may send each request elsewhere (another instance).
	route func(*url.URL)
}

func (s *dvSetup) browser(t testing.TB) *dvBrowser {
	return &dvBrowser{t: t, c: formflow.NewClient(nil)}
}

func (b *dvBrowser) send(method, rawURL string, form url.Values) dvPage {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if b.route != nil {
		b.route(req.URL)
		req.Host = req.URL.Host
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return dvPage{status: resp.StatusCode, header: resp.Header, body: string(got), url: req.URL}
}

// open GETs rawURL.
func (b *dvBrowser) open(rawURL string) dvPage {
	b.t.Helper()
	return b.send(http.MethodGet, rawURL, nil)
}

// follow GETs where a 303 points, and fails for anything else.
func (b *dvBrowser) follow(p dvPage) dvPage {
	b.t.Helper()
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("%s answered %d, want 303; body:\n%.1500s", p.url.Path, p.status, p.body)
	}
	loc, err := p.url.Parse(p.header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return b.open(loc.String())
}

// form reads the page's form.
func (b *dvBrowser) form(p dvPage) *formflow.Form {
	b.t.Helper()
	f, err := formflow.Parse([]byte(p.body), p.url)
	if err != nil {
		b.t.Fatalf("%s (%d): %v\n%.1500s", p.url.Path, p.status, err, p.body)
	}
	return f
}

// submit sends the page's form as its approving button would, with the
// values in set replacing the page's own.
func (b *dvBrowser) submit(p dvPage, set url.Values) dvPage {
	b.t.Helper()
	f := b.form(p)
	method, target, body := f.Submission(dvUser, dvPassword)
	v, err := url.ParseQuery(body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, vs := range set {
		v[k] = vs
	}
	return b.send(method, target.String(), v)
}

// enter types code into the code form of p.
func (b *dvBrowser) enter(p dvPage, code string) dvPage {
	b.t.Helper()
	if !p.is("/device") {
		b.t.Fatalf("not the code form (%d):\n%.1500s", p.status, p.body)
	}
	return b.submit(p, url.Values{"user_code": {code}})
}

// toConsent enters code on the verification page, signs in when asked,
// and returns the consent page.
func (b *dvBrowser) toConsent(verificationURI, code string) dvPage {
	b.t.Helper()
	p := b.enter(b.open(verificationURI), code)
	if p.is("/device/login") {
		p = b.submit(p, nil)
	}
	p = b.follow(p)
	if !p.is("/device/consent") {
		b.t.Fatalf("not the consent page (%d):\n%.2000s", p.status, p.body)
	}
	return p
}

// decide presses Approve or Deny on the consent page.
func (b *dvBrowser) decide(p dvPage, decision string) dvPage {
	b.t.Helper()
	return b.submit(p, url.Values{"decision": {decision}})
}

// approveDevice runs the user's whole part for code in a new browser.
func (s *dvSetup) approveDevice(t testing.TB, a dvAuthorization) {
	t.Helper()
	b := s.browser(t)
	done := b.decide(b.toConsent(a.VerificationURI, a.UserCode), "approve")
	if done.status != http.StatusOK || !strings.Contains(done.body, "Device connected") {
		t.Fatalf("approval answered %d:\n%.1500s", done.status, done.body)
	}
}

// wantNotValid checks that p is the code form saying "not valid", and
// nothing more about the code.
func wantNotValid(t testing.TB, p dvPage) {
	t.Helper()
	if !p.is("/device") || !strings.Contains(p.body, "That code is not valid.") {
		t.Fatalf("want the code form saying the code is not valid, got %d:\n%.1500s", p.status, p.body)
	}
	for _, leak := range []string{"expired", "denied", "used", "approved", "Living Room TV"} {
		if strings.Contains(strings.ToLower(p.body), strings.ToLower(leak)) {
			t.Errorf("the not-valid page says %q", leak)
		}
	}
}
