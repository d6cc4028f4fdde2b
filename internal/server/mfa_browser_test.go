package server_test

// Strong sign-in in Chromium: set up an authenticator app on the account
// page (the QR code drawn inline, the secret shown once, a first code,
// ten recovery codes), then sign in to an application with the password
// and a TOTP code, and check the ID token says so (amr otp, acr mfa);
// then sign in with a recovery code, which prompts to enrol again.

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/browsertest"
)

func TestMFABrowser(t *testing.T) {
	browser := browsertest.Browser(t)
	rp := newAccountRP(t)
	secret, codes := mfaBrowserEnrol(t, rp, browsertest.Tab(t, browser, 60*time.Second))
	rp.env.Clock.Advance(30 * time.Second) // the enrolment's code is used
	mfaBrowserSignIn(t, rp, browsertest.Tab(t, browser, 60*time.Second), secret)
	mfaBrowserRecovery(t, rp, browsertest.Tab(t, browser, 60*time.Second), codes[0])
}

// mfaBrowserRecovery signs in to the account with a recovery code: the
// prompt says how many are left and leads to the account page.
func mfaBrowserRecovery(t *testing.T, rp *azBrowserRP, tab context.Context, code string) {
	t.Helper()
	azNavigate(t, tab, rp.env.URL+"/account")
	azSignIn(t, tab, azPassword)
	_, err := chromedp.RunResponse(tab,
		chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.Click(chromedp.CSS(`#recovery summary`)),
		chromedp.WaitVisible(chromedp.ID("recovery_code")),
		chromedp.SendKeys(chromedp.ID("recovery_code"), code),
		chromedp.Click(chromedp.CSS(`#recovery-form button[type=submit]`)),
	)
	if err != nil {
		t.Fatalf("recovery code form: %v", err)
	}
	if left := text(t, tab, "codes-left"); left != "9" {
		t.Fatalf("codes left %q, want 9", left)
	}
	if _, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("enrol-again"))); err != nil {
		t.Fatal(err)
	}
	accountWaitPage(t, tab)
	if left := text(t, tab, "recovery-left"); left != "9 recovery codes left." {
		t.Fatalf("account page after a recovery code: %q", left)
	}
}

// typeCode types code into #code and submits its form, waiting for the
// page the form leads to.
func typeCode(t *testing.T, tab context.Context, form, code string) {
	t.Helper()
	_, err := chromedp.RunResponse(tab,
		chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.CSS("#"+form+` button[type=submit]`)),
	)
	if err != nil {
		t.Fatalf("%s: %v", form, err)
	}
}

func mfaBrowserEnrol(t *testing.T, rp *azBrowserRP, tab context.Context) (string, []string) {
	t.Helper()
	accountSignIn(t, rp, tab, azPassword)
	if off := text(t, tab, "mfa-off"); !strings.HasPrefix(off, "Off") {
		t.Fatalf("two-step verification shows %q", off)
	}
	if _, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`#mfa-enrol-form button`))); err != nil {
		t.Fatalf("set up: %v", err)
	}
	secret := text(t, tab, "totp-secret")
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(secret) {
		t.Fatalf("secret shown %q, want 32 base32 letters (20 bytes)", secret)
	}
	// The QR code is inline SVG: the page's CSP allows no image source.
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#qr svg path").length`))
	if err != nil || n == 0 {
		t.Fatalf("no QR code drawn (%d paths, %v)", n, err)
	}
	w, err := chromedp.Run(tab, chromedp.Evaluate[float64](`document.querySelector("#qr svg").getBoundingClientRect().width`))
	if err != nil || w < 100 {
		t.Fatalf("QR code %v px wide (%v)", w, err)
	}
	typeCode(t, tab, "enrol-form", "000000")
	if msg := text(t, tab, "error"); !strings.Contains(msg, "not right") {
		t.Fatalf("a wrong first code: %q", msg)
	}
	secret = text(t, tab, "totp-secret") // a refused code starts over with a new secret
	typeCode(t, tab, "enrol-form", totpCode(t, secret, rp.env.Clock.Now()))
	codes, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#recovery-codes li")].map(e => e.textContent)`))
	if err != nil || len(codes) != 10 {
		t.Fatalf("recovery codes %v (%v), want 10", codes, err)
	}
	if _, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("continue"))); err != nil {
		t.Fatal(err)
	}
	if on := text(t, tab, "mfa-on"); !strings.HasPrefix(on, "On") || text(t, tab, "recovery-left") != "10 recovery codes left." {
		t.Fatalf("after enrolment: %q, %q", on, text(t, tab, "recovery-left"))
	}
	return secret, codes
}

func mfaBrowserSignIn(t *testing.T, rp *azBrowserRP, tab context.Context, secret string) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	azNavigate(t, tab, rp.authURL("st-mfa", verifier, "n-mfa"))
	azSignIn(t, tab, azPassword)
	// The same code as the enrolment's step would be refused; this step's is fresh.
	typeCode(t, tab, "totp-form", totpCode(t, secret, rp.env.Clock.Now()))
	azDecide(t, tab, "allow")
	claims := rp.redeem(t, tab, verifier)
	if !slices.Contains(claims.AMR, "otp") || !slices.Contains(claims.AMR, "pwd") || claims.ACR != acrMFA {
		t.Fatalf("ID token amr %v acr %q", claims.AMR, claims.ACR)
	}
}
