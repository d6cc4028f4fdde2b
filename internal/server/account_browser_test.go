package server_test

// The account page in Chromium: change the password (a wrong current one
// refused, then limited like /login, S025/A11); end another browser's
// session and see it signed out; remove an application's access and see
// its refresh token fail. Each case gets its own Latchkey and fresh
// browser contexts (no shared cookies) of one shared browser.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestAccountBrowser(t *testing.T) {
	browser := browsertest.Browser(t)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *azBrowserRP, context.Context)
	}{
		{"change password", accountBrowserPassword},
		{"end this session", accountBrowserEndSession},
		{"remove an application's access", accountBrowserWithdraw},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newAccountRP(t)
			tc.run(t, rp, browsertest.Tab(t, browser, 60*time.Second))
		})
	}
	t.Run("end another session", func(t *testing.T) {
		rp := newAccountRP(t)
		accountBrowserSignedOutElsewhere(t, rp, browsertest.Tab(t, browser, 60*time.Second), browsertest.Tab(t, browser, 60*time.Second))
	})
}

// newAccountRP is newAZBrowserRP with a first guessing delay of a minute,
// so that typing in the browser never outlasts it.
func newAccountRP(t *testing.T) *azBrowserRP {
	t.Helper()
	env := testenv.New(t, testenv.Options{Configure: func(c *server.Config) { c.Limits.BaseDelay = time.Minute }})
	cb := newAZCallback(t)
	secret := env.AddClient(t, store.Client{ID: "notes", Name: "Acme Notes", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "email", "read"}, RedirectURIs: []string{cb.URL + "/cb"}})
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

// accountSignIn opens /account signed out, which shows the sign-in form
// for the account, signs in, and waits for the account page.
func accountSignIn(t *testing.T, rp *azBrowserRP, tab context.Context, password string) {
	t.Helper()
	azNavigate(t, tab, rp.env.URL+"/account")
	lead, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`.lead`)))
	if err != nil || !strings.Contains(lead, "your account") {
		t.Fatalf("signed-out /account shows %q (%v), want the sign-in form for the account", lead, err)
	}
	azSignIn(t, tab, password)
	accountWaitPage(t, tab)
}

// accountWaitPage waits for the account page and checks whose it is.
func accountWaitPage(t *testing.T, tab context.Context) {
	t.Helper()
	who, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("account-username")))
	if err != nil || who != azUser {
		t.Fatalf("account page for %q (%v), want %s", who, err, azUser)
	}
}

// accountChangePassword fills and submits the password form.
func accountChangePassword(t *testing.T, tab context.Context, current, next, confirm string) {
	t.Helper()
	// RunResponse waits for the page the form leads to, not the one it
	// was on.
	_, err := chromedp.RunResponse(tab,
		chromedp.WaitVisible(chromedp.ID("current_password")),
		chromedp.SendKeys(chromedp.ID("current_password"), current),
		chromedp.SendKeys(chromedp.ID("new_password"), next),
		chromedp.SendKeys(chromedp.ID("confirm_password"), confirm),
		chromedp.Click(chromedp.CSS(`#password-form button[type=submit]`)),
	)
	if err != nil {
		t.Fatalf("password form: %v", err)
	}
}

func text(t *testing.T, tab context.Context, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("#%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

func accountBrowserPassword(t *testing.T, rp *azBrowserRP, tab context.Context) {
	accountSignIn(t, rp, tab, azPassword)
	const next = "through the looking-glass"

	// A wrong current password is refused, five times, and then the
	// attempt is limited as on the login page (S025, A11): even the right
	// one is not checked.
	for i := range 5 {
		accountChangePassword(t, tab, "not-the-password", next, next)
		if msg := text(t, tab, "error"); msg != "The current password is incorrect." {
			t.Fatalf("attempt %d: %q", i+1, msg)
		}
	}
	accountChangePassword(t, tab, azPassword, next, next)
	if msg := text(t, tab, "error"); msg != "Too many failed attempts. Wait a little and try again." {
		t.Fatalf("after five failures: %q", msg)
	}
	rp.env.Clock.Advance(16 * time.Minute) // the failures' window passes

	accountChangePassword(t, tab, azPassword, next, next)
	if msg := text(t, tab, "notice"); msg != "Your password was changed. Your other sessions were signed out." {
		t.Fatalf("after the change: %q", msg)
	}

	// The old password no longer signs in; the new one does.
	if _, err := chromedp.Call(tab, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	azNavigate(t, tab, rp.env.URL+"/account")
	azSignIn(t, tab, azPassword)
	if msg := text(t, tab, "error"); msg != "The username or password is incorrect." {
		t.Fatalf("the old password: %q", msg)
	}
	if err := chromedp.Do(tab, chromedp.Clear(chromedp.ID("username"))); err != nil {
		t.Fatal(err)
	}
	azSignIn(t, tab, next)
	accountWaitPage(t, tab)
}

// accountBrowserSignedOutElsewhere: two browsers signed in as alice; the
// first signs the second out from its account page, and the second's next
// authorization request shows the login page.
func accountBrowserSignedOutElsewhere(t *testing.T, rp *azBrowserRP, first, second context.Context) {
	rp.fullFlow(t, second) // the second browser is signed in to the RP
	accountSignIn(t, rp, first, azPassword)
	n, err := chromedp.Run(first, chromedp.Evaluate[int](`document.querySelectorAll("#sessions li").length`))
	if err != nil || n != 2 {
		t.Fatalf("%d sessions listed (%v), want 2", n, err)
	}
	if mark := text(t, first, "this-session"); mark != "this session" {
		t.Fatalf("this session marked %q", mark)
	}
	// Sign out the session that is not this one.
	other := chromedp.CSS(`#sessions li:not(:has(#this-session)) button`)
	_, err = chromedp.RunResponse(first, chromedp.Click(other))
	if err != nil {
		t.Fatalf("sign the other session out: %v", err)
	}
	if msg := text(t, first, "notice"); msg != "That session was signed out." {
		t.Fatalf("notice %q", msg)
	}
	if n, err = chromedp.Run(first, chromedp.Evaluate[int](`document.querySelectorAll("#sessions li").length`)); err != nil || n != 1 {
		t.Fatalf("%d sessions listed after ending one (%v), want 1", n, err)
	}

	// The second browser's session is gone: a new authorization asks it to
	// sign in again, while the first stays signed in.
	azNavigate(t, second, rp.authURL("again", oauth2.GenerateVerifier(), "n"))
	if err := chromedp.Do(second, chromedp.WaitVisible(chromedp.ID("password"))); err != nil {
		t.Fatalf("the signed-out browser does not see the login page: %v", err)
	}
	azNavigate(t, first, rp.env.URL+"/account")
	accountWaitPage(t, first)
}

func accountBrowserEndSession(t *testing.T, rp *azBrowserRP, tab context.Context) {
	// Ending this session signs this browser out: the account page asks
	// it to sign in again.
	accountSignIn(t, rp, tab, azPassword)
	_, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`#sessions li:has(#this-session) button`)))
	if err != nil {
		t.Fatalf("end this session: %v", err)
	}
	if c := azCookies(t, tab, rp.env.URL)["latchkey_session"]; c != nil {
		t.Fatalf("the session cookie is still set: %+v", c)
	}
}

func accountBrowserWithdraw(t *testing.T, rp *azBrowserRP, tab context.Context) {
	tok := rp.fullFlow(t, tab)
	azNavigate(t, tab, rp.env.URL+"/account")
	accountWaitPage(t, tab)
	name, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#apps li strong`)))
	if err != nil || name != "Acme Notes" {
		t.Fatalf("applications list %q (%v), want Acme Notes", name, err)
	}
	_, err = chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`#apps li button`)))
	if err != nil {
		t.Fatalf("remove access: %v", err)
	}
	if msg := text(t, tab, "no-apps"); msg != "You have not allowed any application yet." {
		t.Fatalf("after removal: %q", msg)
	}
	// The application's refresh token now fails, and its access token is
	// inactive.
	resp, got := azPostToken(t, rp.env, "notes", rp.conf.ClientSecret,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	azWantTokenError(t, resp, got, http.StatusBadRequest, "invalid_grant")
	if azActive(t, rp.env, "notes", rp.conf.ClientSecret, tok.AccessToken) {
		t.Fatal("the access token is still active")
	}
	// The next authorization asks for consent again.
	azNavigate(t, tab, rp.authURL("again", oauth2.GenerateVerifier(), "n"))
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`button[name=decision][value=allow]`))); err != nil {
		t.Fatalf("no consent page after the withdrawal: %v", err)
	}
}
