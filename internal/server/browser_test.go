package server_test

// Browser tests: the authorization code flow through the real pages in a
// headless Chromium driven by chromedp (internal/browsertest finds it:
// LATCHKEY_CHROMIUM or Debian's /usr/bin/chromium; without it the tests
// skip, except under CI=true, where they fail).

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image/png"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// azCallback is the client's redirect URI: a loopback server that records
// every query it receives on /cb and /logged-out.
type azCallback struct {
	*httptest.Server
	hits chan url.Values
}

func newAZCallback(t *testing.T) *azCallback {
	cb := &azCallback{hits: make(chan url.Values, 16)}
	cb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cb" || r.URL.Path == "/logged-out" {
			q, _ := url.ParseQuery(r.URL.RawQuery)
			select {
			case cb.hits <- q:
			default: // a test that lets 16 callbacks pile up fails on its own
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>client callback</title><p id="client-callback">back at the client</p>`)
	}))
	t.Cleanup(cb.Close)
	return cb
}

// wait returns the next query the callback received, once the tab shows
// the callback's page (so that the next navigation cannot abort it).
func (cb *azCallback) wait(t *testing.T, tab context.Context) url.Values {
	t.Helper()
	select {
	case q := <-cb.hits:
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("client-callback"))); err != nil {
			t.Fatalf("callback page: %v", err)
		}
		return q
	case <-time.After(15 * time.Second):
		t.Fatal("the browser never reached the client's redirect URI")
		return nil
	}
}

// azBrowserRP is a relying party of one Latchkey, seen from a browser.
type azBrowserRP struct {
	env      *testenv.Env
	cb       *azCallback
	conf     oauth2.Config
	provider *oidc.Provider
}

func newAZBrowserRP(t *testing.T, name string) *azBrowserRP {
	t.Helper()
	env := testenv.New(t, testenv.Options{})
	cb := newAZCallback(t)
	secret := env.AddClient(t, store.Client{ID: "notes", Name: name, GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "email", "read"}, RedirectURIs: []string{cb.URL + "/cb"},
		PostLogoutRedirectURIs: []string{cb.URL + "/logged-out"}})
	env.AddUser(t, azUser, azPassword, map[string]any{"name": "Alice Liddell", "email": "alice@example.com"})
	provider, err := oidc.NewProvider(context.Background(), env.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: "notes", ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: cb.URL + "/cb", Scopes: []string{"openid", "profile", "email", "read"}}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	return &azBrowserRP{env: env, cb: cb, conf: conf, provider: provider}
}

// authURL is an authorization request with PKCE and a nonce.
func (rp *azBrowserRP) authURL(state, verifier, nonce string, extra ...oauth2.AuthCodeOption) string {
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}, extra...)
	return rp.conf.AuthCodeURL(state, opts...)
}

// azSignIn types alice's credentials into the login page and submits it.
func azSignIn(t *testing.T, tab context.Context, password string) {
	t.Helper()
	err := chromedp.Do(tab,
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), azUser),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	)
	if err != nil {
		t.Fatalf("login page: %v", err)
	}
}

// azDecide clicks Allow or Deny on the consent page.
func azDecide(t *testing.T, tab context.Context, decision string) {
	t.Helper()
	sel := chromedp.CSS(`button[name=decision][value=` + decision + `]`)
	if err := chromedp.Do(tab, chromedp.WaitVisible(sel), chromedp.Click(sel)); err != nil {
		t.Fatalf("consent page: %v", err)
	}
}

// azNavigate loads u and returns the response of the document shown at the
// end: a redirect chain ends at its last hop.
func azNavigate(t *testing.T, tab context.Context, u string) *network.Response {
	t.Helper()
	resp, err := chromedp.Run(tab, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("navigate: %v", err)
	}
	return resp
}

func azWantKeys(t *testing.T, q url.Values, keys ...string) {
	t.Helper()
	if slices.Sort(keys); !slices.Equal(slices.Sorted(maps.Keys(q)), keys) {
		t.Fatalf("callback parameters %v, want exactly %v", q, keys)
	}
}

// fullFlow signs in and allows through the real pages, then checks the
// callback (code, state and iss only), redeems the code with x/oauth2 and
// verifies the ID token (signature, nonce, at_hash) and userinfo's sub
// with go-oidc; it returns the token.
func (rp *azBrowserRP) fullFlow(t *testing.T, tab context.Context) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	state, nonce := "st "+verifier[:6]+"+&", "n-"+verifier[6:12]
	azNavigate(t, tab, rp.authURL(state, verifier, nonce))
	azSignIn(t, tab, azPassword)
	azDecide(t, tab, "allow")
	q := rp.cb.wait(t, tab)
	azWantKeys(t, q, "code", "state", "iss")
	if q.Get("state") != state || q.Get("iss") != rp.env.URL {
		t.Fatalf("callback %v", q)
	}
	ctx := context.Background()
	tok, err := rp.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.provider.Verifier(&oidc.Config{ClientID: "notes"}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("ID token nonce %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != idt.Subject || ui.Email != "alice@example.com" {
		t.Fatalf("userinfo %+v %v, want sub %s", ui, err, idt.Subject)
	}
	return tok
}

// azCookies returns the browser's cookies for Latchkey.
func azCookies(t *testing.T, tab context.Context, u string) map[string]*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

// TestBrowser drives the code flow's pages in Chromium (STANDARDS §2, the
// oidcc-* modules it lists, and A10). Each case gets its own Latchkey,
// client callback and tab in a fresh browser context of one shared browser.
func TestBrowser(t *testing.T) {
	browser := browsertest.Browser(t)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *azBrowserRP, context.Context)
	}{
		{"full flow with x/oauth2 and go-oidc", func(t *testing.T, rp *azBrowserRP, tab context.Context) { rp.fullFlow(t, tab) }},
		{"deny", azBrowserDeny},
		{"wrong password", azBrowserWrongPassword},
		{"remembered consent and prompt=login", azBrowserRememberedConsent},
		{"RP-initiated logout", azBrowserLogout},
		{"prompt=none without a session", azBrowserPromptNone},
		{"clickjacking (A10)", azBrowserClickjacking},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newAZBrowserRP(t, "Acme Notes"), browsertest.Tab(t, browser, 30*time.Second))
		})
	}
}

func azBrowserDeny(t *testing.T, rp *azBrowserRP, tab context.Context) {
	azNavigate(t, tab, rp.authURL("deny-state", oauth2.GenerateVerifier(), "n"))
	azSignIn(t, tab, azPassword)
	azDecide(t, tab, "deny")
	q := rp.cb.wait(t, tab)
	azWantKeys(t, q, "error", "error_description", "state", "iss")
	if q.Get("error") != "access_denied" || q.Get("state") != "deny-state" || q.Get("iss") != rp.env.URL {
		t.Fatalf("callback %v", q)
	}
}

// azBrowserWrongPassword: the generic message, and no session (A11, A7).
func azBrowserWrongPassword(t *testing.T, rp *azBrowserRP, tab context.Context) {
	azNavigate(t, tab, rp.authURL("s", oauth2.GenerateVerifier(), "n"))
	azSignIn(t, tab, "not-the-password")
	msg, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("error")))
	if err != nil || strings.TrimSpace(msg) != "The username or password is incorrect." {
		t.Fatalf("error message %q %v", msg, err)
	}
	cookies := azCookies(t, tab, rp.env.URL)
	if _, ok := cookies["latchkey_session"]; ok {
		t.Fatal("a session cookie was set after a wrong password")
	}
	if c := cookies["latchkey_csrf"]; c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Fatalf("CSRF cookie %+v, want HttpOnly and SameSite=Lax", c)
	}
	if len(rp.cb.hits) != 0 {
		t.Fatal("the client was called after a wrong password")
	}
}

// azBrowserRememberedConsent: a second authorization skips every page;
// prompt=login shows the login page despite the session (S222).
func azBrowserRememberedConsent(t *testing.T, rp *azBrowserRP, tab context.Context) {
	rp.fullFlow(t, tab)
	if c := azCookies(t, tab, rp.env.URL)["latchkey_session"]; c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Fatalf("session cookie %+v, want HttpOnly and SameSite=Lax", c)
	}
	rp.quickFlow(t, tab)
	resp := azNavigate(t, tab, rp.authURL("relogin", oauth2.GenerateVerifier(), "n3", oauth2.SetAuthURLParam("prompt", "login")))
	if !strings.HasPrefix(resp.URL, rp.env.URL+"/authorize?") || resp.Status != http.StatusOK {
		t.Fatalf("prompt=login: ended on %s (%d), want the login page", resp.URL, resp.Status)
	}
	azSignIn(t, tab, azPassword)
	if q := rp.cb.wait(t, tab); q.Get("state") != "relogin" || q.Get("code") == "" {
		t.Fatalf("after the new login: %v", q)
	}
}

// azBrowserLogout: RP-initiated logout with id_token_hint goes back to the
// registered post_logout_redirect_uri with state, and ends the session.
func azBrowserLogout(t *testing.T, rp *azBrowserRP, tab context.Context) {
	tok := rp.fullFlow(t, tab)
	hint, _ := tok.Extra("id_token").(string)
	logout := rp.env.URL + "/logout?" + url.Values{"id_token_hint": {hint},
		"post_logout_redirect_uri": {rp.cb.URL + "/logged-out"}, "state": {"bye now"}}.Encode()
	resp := azNavigate(t, tab, logout)
	if q := rp.cb.wait(t, tab); !strings.HasPrefix(resp.URL, rp.cb.URL+"/logged-out?") || q.Get("state") != "bye now" {
		t.Fatalf("logout: ended on %s with %v", resp.URL, q)
	}
	if _, ok := azCookies(t, tab, rp.env.URL)["latchkey_session"]; ok {
		t.Fatal("the session cookie survived the logout")
	}
	azNavigate(t, tab, rp.authURL("after-logout", oauth2.GenerateVerifier(), "n4", oauth2.SetAuthURLParam("prompt", "none")))
	if q := rp.cb.wait(t, tab); q.Get("error") != "login_required" || q.Get("state") != "after-logout" {
		t.Fatalf("prompt=none after logout: %v", q)
	}
}

func azBrowserPromptNone(t *testing.T, rp *azBrowserRP, tab context.Context) {
	azNavigate(t, tab, rp.authURL("quiet", oauth2.GenerateVerifier(), "n", oauth2.SetAuthURLParam("prompt", "none")))
	q := rp.cb.wait(t, tab)
	azWantKeys(t, q, "error", "error_description", "state", "iss")
	if q.Get("error") != "login_required" || q.Get("state") != "quiet" || q.Get("iss") != rp.env.URL {
		t.Fatalf("callback %v", q)
	}
}

// azBrowserClickjacking is STANDARDS A10: a page of another origin frames
// the login page and the error page; Chromium must refuse to render them
// (the frame ends on its error page), while a Latchkey file served without
// frame-blocking headers renders in the same page, so the check can fail.
func azBrowserClickjacking(t *testing.T, rp *azBrowserRP, tab context.Context) {
	srcs := map[string]string{
		"login":   rp.authURL("framed", oauth2.GenerateVerifier(), "n"),
		"error":   rp.env.URL + "/authorize?client_id=nobody",
		"control": rp.env.URL + "/assets/style.css",
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>evil</title>")
		for name, src := range srcs {
			fmt.Fprintf(w, `<iframe name="%s" src="%s"></iframe>`, name, html.EscapeString(src))
		}
	}))
	defer evil.Close()
	azNavigate(t, tab, evil.URL)
	frames := azFrames(t, tab)
	if f := frames["control"]; f == nil || f.URL != srcs["control"] {
		t.Fatalf("control frame %+v: the test cannot tell a blocked frame from a loaded one", f)
	}
	for _, name := range []string{"login", "error"} {
		f := frames[name]
		if f == nil {
			t.Fatalf("no %s frame in %+v", name, frames)
		}
		if f.URL == srcs[name] || !strings.HasPrefix(f.URL, "chrome-error://") {
			t.Errorf("%s page rendered inside another site's frame: frame URL %q", name, f.URL)
		}
	}
}

// azFrames returns the frames of the page shown in tab, by name.
func azFrames(t *testing.T, tab context.Context) map[string]*cdp.Frame {
	t.Helper()
	tree, err := chromedp.Call(tab, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	frames := map[string]*cdp.Frame{}
	for _, child := range tree.FrameTree.ChildFrames {
		frames[child.Frame.Name] = child.Frame
	}
	return frames
}

// quickFlow runs an authorization in a tab that is signed in and has
// consented: it must end on the client's callback without showing any page
// (the document the browser ends on is the callback), and the code must
// redeem.
func (rp *azBrowserRP) quickFlow(t *testing.T, tab context.Context) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	resp := azNavigate(t, tab, rp.authURL("again", verifier, "n-again"))
	if !strings.HasPrefix(resp.URL, rp.cb.URL+"/cb?") {
		t.Fatalf("remembered consent: ended on %s (%d), want the callback", resp.URL, resp.Status)
	}
	q := rp.cb.wait(t, tab)
	if _, err := rp.conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v (callback %v)", err, q)
	}
}

// TestBrowserScreenshots renders the login and consent pages at a phone-
// like 480×720 viewport. With LATCHKEY_SCREENSHOTS=<dir> it saves them as
// login.png and consent.png there (docs/images holds the published ones).
func TestBrowserScreenshots(t *testing.T) {
	browser := browsertest.Browser(t)
	rp, tab := newAZBrowserRP(t, "Acme Notes"), browsertest.Tab(t, browser, 30*time.Second)
	dir := os.Getenv("LATCHKEY_SCREENSHOTS")
	if err := chromedp.Do(tab, chromedp.EmulateViewport(480, 720)); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil || img.Bounds().Dx() != 480 || img.Bounds().Dy() != 720 {
			t.Fatalf("%s: a %v PNG (%v), want 480×720", name, img.Bounds(), err)
		}
		if dir != "" {
			if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	azNavigate(t, tab, rp.authURL("shot", oauth2.GenerateVerifier(), "n"))
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatal(err)
	}
	shot("login.png")
	azSignIn(t, tab, azPassword)
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("h1")))
	if err != nil || !strings.Contains(title, "Acme Notes") {
		t.Fatalf("consent heading %q %v", title, err)
	}
	shot("consent.png")
}
