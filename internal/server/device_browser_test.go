package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/server"
)

// dvDevice is a device: golang.org/x/oauth2 configured from Latchkey's
// discovery document (go-oidc reads device_authorization_endpoint, S192).
type dvDevice struct {
	conf     oauth2.Config
	provider *oidc.Provider
}

func newDVDevice(t *testing.T, s *dvSetup) dvDevice {
	t.Helper()
	provider, err := oidc.NewProvider(context.Background(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if provider.Endpoint().DeviceAuthURL != s.URL+"/device_authorization" {
		t.Fatalf("discovery gave DeviceAuthURL %q", provider.Endpoint().DeviceAuthURL)
	}
	conf := oauth2.Config{ClientID: "tv", Endpoint: provider.Endpoint(), Scopes: []string{"openid", "read", "offline_access"}}
	return dvDevice{conf: conf, provider: provider}
}

// start asks for a code and polls for the token in the background, as
// x/oauth2 does: at the interval, slowing down when told.
func (d dvDevice) start(t *testing.T) (*oauth2.DeviceAuthResponse, <-chan dvPolled) {
	t.Helper()
	ctx := context.Background()
	da, err := d.conf.DeviceAuth(ctx, oauth2.SetAuthURLParam("resource", dvAPI))
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	done := make(chan dvPolled, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		tok, err := d.conf.DeviceAccessToken(ctx, da)
		done <- dvPolled{tok, err}
	}()
	return da, done
}

type dvPolled struct {
	tok *oauth2.Token
	err error
}

// TestDeviceBrowser is the device grant end to end (issue 12): x/oauth2's
// DeviceAuth and DeviceAccessToken against a running Latchkey, while
// Chromium does the user's part on the real pages, from
// verification_uri_complete to Approve or Deny.
func TestDeviceBrowser(t *testing.T) {
	browser := browsertest.Browser(t)
	fast := func(c *server.Config) { c.Device.Interval = time.Second } // x/oauth2 polls in real time
	t.Run("approve", func(t *testing.T) {
		s := newDV(t, fast)
		device := newDVDevice(t, s)
		da, polled := device.start(t)
		tab := browsertest.Tab(t, browser, 30*time.Second)
		dvBrowserToConsent(t, tab, da)
		dvBrowserClick(t, tab, "approve", "Device connected")
		got := <-polled
		if got.err != nil {
			t.Fatalf("DeviceAccessToken: %v", got.err)
		}
		raw, _ := got.tok.Extra("id_token").(string)
		idt, err := device.provider.Verifier(&oidc.Config{ClientID: "tv"}).Verify(context.Background(), raw)
		if err != nil || idt.Subject != s.user.ID {
			t.Fatalf("ID token %v: %v, want alice's", idt, err)
		}
		if got.tok.RefreshToken == "" || got.tok.Extra("scope") != "openid read offline_access" {
			t.Errorf("token %+v scope %v, want a refresh token and the scopes asked for", got.tok, got.tok.Extra("scope"))
		}
		if _, claims := azJWT(t, got.tok.AccessToken); claims["aud"] != dvAPI {
			t.Errorf("access token aud %v, want %s", claims["aud"], dvAPI)
		}
	})
	t.Run("deny", func(t *testing.T) {
		s := newDV(t, fast)
		da, polled := newDVDevice(t, s).start(t)
		tab := browsertest.Tab(t, browser, 30*time.Second)
		dvBrowserToConsent(t, tab, da)
		dvBrowserClick(t, tab, "deny", "Request denied")
		got := <-polled
		var re *oauth2.RetrieveError
		if !errors.As(got.err, &re) || re.ErrorCode != "access_denied" || got.tok != nil {
			t.Fatalf("DeviceAccessToken after a denial = %v, %v; want access_denied", got.tok, got.err)
		}
	})
	t.Run("no framing (S136)", func(t *testing.T) {
		s := newDV(t, nil)
		dvBrowserNotFramed(t, browsertest.Tab(t, browser, 30*time.Second), s.URL+"/device")
	})
}

// dvBrowserToConsent opens verification_uri_complete, checks the code is
// pre-filled, goes on, signs in and waits for the consent page and its
// phishing warning.
func dvBrowserToConsent(t *testing.T, tab context.Context, da *oauth2.DeviceAuthResponse) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Navigate(da.VerificationURIComplete), chromedp.WaitVisible(chromedp.ID("user_code"))); err != nil {
		t.Fatalf("verification page: %v", err)
	}
	prefilled, err := chromedp.Run(tab, chromedp.Value(chromedp.ID("user_code")))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("username"), dvUser),
		chromedp.SendKeys(chromedp.ID("password"), dvPassword),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("phishing-warning")),
	)
	if err != nil {
		t.Fatalf("code and login pages: %v", err)
	}
	warning, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("phishing-warning")))
	if err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("user-code")))
	if err != nil {
		t.Fatal(err)
	}
	if prefilled != da.UserCode || shown != da.UserCode {
		t.Errorf("code pre-filled %q and shown %q, want %q", prefilled, shown, da.UserCode)
	}
	if !strings.Contains(warning, "Never enter a code someone sent you") {
		t.Errorf("phishing warning %q (S195)", warning)
	}
}

// dvBrowserClick presses Approve or Deny and waits for the outcome page.
func dvBrowserClick(t *testing.T, tab context.Context, decision, outcome string) {
	t.Helper()
	sel := chromedp.CSS(`button[name=decision][value=` + decision + `]`)
	if err := chromedp.Do(tab, chromedp.Click(sel), chromedp.WaitVisible(chromedp.ID("device-done"))); err != nil {
		t.Fatalf("after %s: %v", decision, err)
	}
	if got, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("device-done"))); err != nil || got != outcome {
		t.Fatalf("after %s: %q %v, want %q", decision, got, err, outcome)
	}
}

// dvBrowserNotFramed loads src in an iframe of another origin and checks
// that the browser refused to show it, beside a control frame it shows.
func dvBrowserNotFramed(t *testing.T, tab context.Context, src string) {
	t.Helper()
	control := strings.TrimSuffix(src, "/device") + "/assets/style.css"
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>evil</title><iframe name="device" src="%s"></iframe><iframe name="control" src="%s"></iframe>`, src, control)
	}))
	defer evil.Close()
	azNavigate(t, tab, evil.URL)
	frames := azFrames(t, tab)
	if f := frames["control"]; f == nil || f.URL != control {
		t.Fatalf("control frame %+v: the test cannot tell a blocked frame from a loaded one", f)
	}
	if f := frames["device"]; f == nil || f.URL == src || !strings.HasPrefix(f.URL, "chrome-error://") {
		t.Errorf("the device page was shown in another site's frame: %+v", f)
	}
}
