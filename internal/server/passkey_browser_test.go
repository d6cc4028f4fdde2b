package server_test

// Passkeys in Chromium, with the DevTools virtual authenticator (CTAP2,
// internal transport, resident keys, user verification): enrol a passkey
// on the account page, sign in to an application with the password and
// the passkey (amr pwd hwk mfa, acr phishing_resistant), sign in with the
// passkey alone (amr hwk user mfa), replay a captured assertion (refused:
// the challenge is single use), sign in with a clone of the passkey whose
// counter went backwards (refused), and remove the passkey.
//
// With LATCHKEY_SCREENSHOTS=dir the test writes PNGs of the account page
// with a passkey, the login page with the passkey button and the
// second-factor page into dir (the README's come from
// LATCHKEY_SCREENSHOTS=../../docs/images).

import (
	"context"
	"io"
	"net/http"
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
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

const acrPhishing = "urn:latchkey:acr:phishing_resistant"

func TestPasskeyBrowser(t *testing.T) {
	browser := browsertest.Browser(t)
	rp := newPasskeyRP(t)
	tab := browsertest.Tab(t, browser, 120*time.Second)
	auth := addAuthenticator(t, tab)
	// The virtual authenticator answers a conditional request (the
	// username field's autofill) at once, as if the user picked the
	// passkey: until the test of that, pages are told the browser has no
	// conditional UI, so the password and the buttons can be used.
	noAutofill := withoutAutofill(t, tab)

	passkeyBrowserEnrol(t, rp, tab)
	signOutTab(t, tab)
	claims := passkeyBrowserSecondFactor(t, rp, tab)
	if !slices.Equal(claims.AMR, []string{"pwd", "hwk", "mfa"}) || claims.ACR != acrPhishing {
		t.Fatalf("password and passkey: amr %v acr %q", claims.AMR, claims.ACR)
	}
	signOutTab(t, tab)
	claims = passkeyBrowserPasswordless(t, rp, tab)
	if !slices.Equal(claims.AMR, []string{"hwk", "user", "mfa"}) || claims.ACR != acrPhishing {
		t.Fatalf("passkey alone: amr %v acr %q", claims.AMR, claims.ACR)
	}
	signOutTab(t, tab)
	passkeyBrowserAutofill(t, rp, tab, noAutofill)
	noAutofill = withoutAutofill(t, tab)
	signOutTab(t, tab)
	passkeyBrowserReplay(t, rp, tab)
	signOutTab(t, tab)
	auth = passkeyBrowserClone(t, rp, tab, auth)
	passkeyBrowserRemove(t, rp, tab, auth)
}

// newPasskeyRP is newAccountRP with the issuer at localhost: a relying
// party id is a domain name, never an IP address.
func newPasskeyRP(t *testing.T) *passkeyRP {
	t.Helper()
	env := testenv.New(t, testenv.Options{Localhost: true, Configure: func(c *server.Config) { c.Limits.BaseDelay = time.Minute }})
	cb := newAZCallback(t)
	secret := env.AddClient(t, store.Client{ID: "notes", Name: "Acme Notes", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "email", "read"}, RedirectURIs: []string{cb.URL + "/cb"}})
	user := env.AddUser(t, azUser, azPassword, map[string]any{"name": "Alice Liddell", "email": "alice@example.com"})
	provider, err := oidc.NewProvider(context.Background(), env.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: "notes", ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: cb.URL + "/cb", Scopes: []string{"openid", "profile", "email", "read"}}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	return &passkeyRP{azBrowserRP{env: env, cb: cb, conf: conf, provider: provider}, user.ID}
}

// passkeyRP is a relying party and the ID of its user alice.
type passkeyRP struct {
	azBrowserRP
	userID string
}

// virtualAuthenticator is a platform authenticator with resident keys
// whose user verification always succeeds.
func virtualAuthenticator() *webauthn.VirtualAuthenticatorOptions {
	return &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
		Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}
}

func addAuthenticator(t *testing.T, tab context.Context) webauthn.AuthenticatorID {
	t.Helper()
	off := false
	if _, err := chromedp.Call(tab, webauthn.Enable, webauthn.EnableParams{EnableUI: &off}); err != nil {
		t.Fatalf("webauthn domain: %v", err)
	}
	res, err := chromedp.Call(tab, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: virtualAuthenticator()})
	if err != nil {
		t.Fatalf("virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// withoutAutofill makes every page of tab see a browser without
// conditional mediation; it returns the script's id.
func withoutAutofill(t *testing.T, tab context.Context) page.ScriptIdentifier {
	t.Helper()
	res, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `PublicKeyCredential.isConditionalMediationAvailable = async () => false;`})
	if err != nil {
		t.Fatal(err)
	}
	return res.Identifier
}

// passkeyBrowserAutofill opens the account's sign-in page in a browser
// with conditional UI: the passkey offered in the username field's
// autofill signs in without a click on the passkey button.
func passkeyBrowserAutofill(t *testing.T, rp *passkeyRP, tab context.Context, hook page.ScriptIdentifier) {
	t.Helper()
	if _, err := chromedp.Call(tab, page.RemoveScriptToEvaluateOnNewDocument, page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: hook}); err != nil {
		t.Fatal(err)
	}
	azNavigate(t, tab, rp.env.URL+"/account")
	accountWaitPage(t, tab) // the conditional request resolved and the form was sent
	sessions, err := rp.env.Store.ListSessions(context.Background(), rp.userID, rp.env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	last := sessions[len(sessions)-1]
	for _, s := range sessions {
		if s.CreatedAt.After(last.CreatedAt) {
			last = s
		}
	}
	if !slices.Equal(last.AMR, []string{"hwk", "user", "mfa"}) {
		t.Fatalf("autofill sign-in: session amr %v", last.AMR)
	}
}

// signOutTab forgets the tab's cookies (the authenticator stays).
func signOutTab(t *testing.T, tab context.Context) {
	t.Helper()
	if _, err := chromedp.Call(tab, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
}

// screenshot writes the page as dir/name.png when LATCHKEY_SCREENSHOTS=dir.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := os.Getenv("LATCHKEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	if err := chromedp.Do(tab, chromedp.EmulateViewport(720, 900)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// clickTo clicks sel and waits for the page it leads to.
func clickTo(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	if _, err := chromedp.RunResponse(tab, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

func passkeyBrowserEnrol(t *testing.T, rp *passkeyRP, tab context.Context) {
	t.Helper()
	resp := azNavigate(t, tab, rp.env.URL+"/account")
	if csp := resp.Headers["Content-Security-Policy"]; csp != "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'" {
		t.Fatalf("account sign-in page CSP %q", csp)
	}
	azSignIn(t, tab, azPassword)
	accountWaitPage(t, tab)
	if text(t, tab, "no-passkeys") != "You have no passkey yet." {
		t.Fatal("a new user lists passkeys")
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("passkey-add-form"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("passkey_name").value = ""`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID("passkey_name"), "Work laptop")); err != nil {
		t.Fatal(err)
	}
	clickTo(t, tab, "#passkey-add")
	// The first factor comes with recovery codes, shown once.
	codes, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#recovery-codes li")].map(e => e.textContent)`))
	if err != nil || len(codes) != 10 {
		t.Fatalf("recovery codes %v (%v), want 10", codes, err)
	}
	clickTo(t, tab, "#continue")
	accountWaitPage(t, tab)
	names, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#passkeys .passkey-name")].map(e => e.textContent)`))
	if err != nil || !slices.Equal(names, []string{"Work laptop"}) {
		t.Fatalf("passkeys listed %v (%v)", names, err)
	}
	if on := text(t, tab, "mfa-on"); !strings.Contains(on, "a passkey") {
		t.Fatalf("two-step verification: %q", on)
	}
	factors, err := rp.env.Store.ListFactors(context.Background(), rp.userID)
	if err != nil || len(factors) != 1 || factors[0].Kind != store.FactorWebAuthn || factors[0].Label != "Work laptop" {
		t.Fatalf("stored factors %+v (%v)", factors, err)
	}
	screenshot(t, tab, "passkey-account")
}

type idClaimSet struct {
	AMR []string `json:"amr"`
	ACR string   `json:"acr"`
}

// redeem exchanges the callback's code and returns the ID token's amr and acr.
func (rp *azBrowserRP) redeem(t *testing.T, tab context.Context, verifier string) idClaimSet {
	t.Helper()
	q := rp.cb.wait(t, tab)
	tok, err := rp.conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v (callback %v)", err, q)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.provider.Verifier(&oidc.Config{ClientID: "notes"}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var c idClaimSet
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func passkeyBrowserSecondFactor(t *testing.T, rp *passkeyRP, tab context.Context) idClaimSet {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	azNavigate(t, tab, rp.authURL("st-pk", verifier, "n-pk"))
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("passkey-button"))); err != nil {
		t.Fatalf("no passkey button on the login page: %v", err)
	}
	screenshot(t, tab, "passkey-login")
	azSignIn(t, tab, azPassword)
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("mfa-passkey-button"))); err != nil {
		t.Fatalf("no passkey button on the second-factor page: %v", err)
	}
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#totp-form").length`)); err != nil || n != 0 {
		t.Fatalf("a user without an app is asked for a code (%d, %v)", n, err)
	}
	screenshot(t, tab, "passkey-second-factor")
	clickTo(t, tab, "#mfa-passkey-button")
	azDecide(t, tab, "allow")
	return rp.redeem(t, tab, verifier)
}

// passkeyBrowserPasswordless signs in with the passkey alone, for a
// request that needs a phishing-resistant sign-in.
func passkeyBrowserPasswordless(t *testing.T, rp *passkeyRP, tab context.Context) idClaimSet {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	azNavigate(t, tab, rp.authURL("st-pl", verifier, "n-pl", oauth2.SetAuthURLParam("acr_values", acrPhishing)))
	ac, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.ID("username"), "autocomplete"))
	if err != nil || ac.Value != "username webauthn" {
		t.Fatalf("username autocomplete %q (%v), want conditional UI's", ac.Value, err)
	}
	clickTo(t, tab, "#passkey-button")
	return rp.redeem(t, tab, verifier) // consent is remembered
}

// capturedAssertion makes the passwordless form on the page keep the
// credential's JSON instead of submitting it, clicks its button, and
// returns the form as it would have been sent, with the tab's cookies.
func capturedAssertion(t *testing.T, tab context.Context) (url.Values, []*http.Cookie) {
	t.Helper()
	const hook = `(() => { const f = document.getElementById("passkey-form");
		f.submit = function () { window.captured = new URLSearchParams(new FormData(f)).toString(); }; return true; })()`
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("passkey-button"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](hook)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("passkey-button"))); err != nil {
		t.Fatal(err)
	}
	form, err := chromedp.Run(tab, chromedp.Poll[string](`window.captured`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("capture the assertion: %v", err)
	}
	vals, err := url.ParseQuery(form)
	if err != nil || vals.Get("credential") == "" {
		t.Fatalf("captured form %q (%v)", form, err)
	}
	cookies, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*http.Cookie
	for _, c := range cookies.Cookies {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return vals, out
}

// postCaptured sends the captured form as the browser would have, and
// returns the status and where it leads (or the page).
func postCaptured(t *testing.T, rp *passkeyRP, form url.Values, cookies []*http.Cookie) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rp.env.URL+"/login/passkey", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// passkeyBrowserReplay: an assertion captured in the page works once;
// the same request again, cookies and all, is refused (A: replay).
func passkeyBrowserReplay(t *testing.T, rp *passkeyRP, tab context.Context) {
	t.Helper()
	azNavigate(t, tab, rp.env.URL+"/account")
	form, cookies := capturedAssertion(t, tab)
	status, loc, body := postCaptured(t, rp, form, cookies)
	if status != http.StatusSeeOther || loc != rp.env.URL+"/account" {
		t.Fatalf("first use of the assertion: %d %q\n%.1000s", status, loc, body)
	}
	status, loc, body = postCaptured(t, rp, form, cookies)
	if status != http.StatusOK || loc != "" || !strings.Contains(body, "expired or was used already") {
		t.Fatalf("replayed assertion: %d %q\n%.1500s", status, loc, body)
	}
}

// passkeyBrowserClone moves the passkey, private key and all, to a new
// authenticator whose signature counter is behind the server's: the
// sign-in is refused. It returns the new authenticator.
func passkeyBrowserClone(t *testing.T, rp *passkeyRP, tab context.Context, orig webauthn.AuthenticatorID) webauthn.AuthenticatorID {
	t.Helper()
	got, err := chromedp.Call(tab, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: orig})
	creds := got.Credentials
	if err != nil || len(creds) != 1 {
		t.Fatalf("export the passkey: %d credentials (%v)", len(creds), err)
	}
	if _, err := chromedp.Call(tab, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: orig}); err != nil {
		t.Fatal(err)
	}
	opts := virtualAuthenticator()
	opts.HasCmtgKey = true // the export carries the CMTG extension's state
	added, err := chromedp.Call(tab, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	clone := added.AuthenticatorID
	factors, err := rp.env.Store.ListFactors(context.Background(), rp.userID)
	if err != nil || len(factors) != 1 || factors[0].Counter < 3 || float64(factors[0].Counter) != creds[0].SignCount {
		t.Fatalf("stored counter %+v, authenticator's %v (%v): want the same, 3 or more", factors, creds[0].SignCount, err)
	}
	copied := *creds[0]
	copied.SignCount = 0 // the clone's next assertion says 1: behind the server's
	copied.CmtgKeys, copied.ActiveCmtgKeyIndex, copied.GenerateCmtgKeyOnNextOperation = nil, nil, false
	if _, err := chromedp.Call(tab, webauthn.AddCredential, webauthn.AddCredentialParams{AuthenticatorID: clone, Credential: &copied}); err != nil {
		t.Fatalf("import the passkey: %v", err)
	}
	azNavigate(t, tab, rp.env.URL+"/account")
	clickTo(t, tab, "#passkey-button")
	if msg := text(t, tab, "error"); !strings.Contains(msg, "signature counter went backwards") {
		t.Fatalf("cloned passkey: %q", msg)
	}
	after, err := rp.env.Store.ListFactors(context.Background(), rp.userID)
	if err != nil || after[0].Counter != factors[0].Counter {
		t.Fatalf("the clone moved the stored counter: %d, was %d (%v)", after[0].Counter, factors[0].Counter, err)
	}
	return clone
}

// passkeyBrowserRemove signs in with the passkey (its counter moved past
// the server's) and removes it from the account page.
func passkeyBrowserRemove(t *testing.T, rp *passkeyRP, tab context.Context, auth webauthn.AuthenticatorID) {
	t.Helper()
	factors, err := rp.env.Store.ListFactors(context.Background(), rp.userID)
	if err != nil {
		t.Fatal(err)
	}
	ahead := float64(factors[0].Counter + 10)
	got, err := chromedp.Call(tab, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
	if err != nil || len(got.Credentials) != 1 {
		t.Fatalf("credentials %v (%v)", got, err)
	}
	if _, err := chromedp.Call(tab, webauthn.SetCredentialProperties, webauthn.SetCredentialPropertiesParams{
		AuthenticatorID: auth, CredentialID: got.Credentials[0].CredentialID, SignCount: &ahead}); err != nil {
		t.Fatal(err)
	}
	signOutTab(t, tab)
	azNavigate(t, tab, rp.env.URL+"/account")
	clickTo(t, tab, "#passkey-button")
	accountWaitPage(t, tab)
	clickTo(t, tab, `#passkeys button[aria-label="Remove passkey Work laptop"]`)
	if got := text(t, tab, "notice"); got != "The passkey was removed." {
		t.Fatalf("after removal: %q", got)
	}
	if text(t, tab, "no-passkeys") != "You have no passkey yet." || text(t, tab, "mfa-off") != "Off: your password alone signs you in." {
		t.Fatal("the account page still lists a factor")
	}
	left, err := rp.env.Store.CountRecoveryCodes(context.Background(), rp.userID)
	if err != nil || left != 0 {
		t.Fatalf("recovery codes after the last factor went: %d (%v)", left, err)
	}
}
