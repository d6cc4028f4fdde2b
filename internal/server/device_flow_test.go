package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
)

// TestDeviceFlow is the whole grant over real HTTP (RFC 8628 §3): the
// device asks for a code, the user opens verification_uri_complete, signs
// in on the login page and approves on the consent page, and the device's
// next poll gets tokens as the code grant issues them: an access token
// for the resource asked for, a refresh token, an ID token (S189-S191).
func TestDeviceFlow(t *testing.T) {
	s := newDV(t, nil)
	a := s.tvAuthorize(t, "openid profile read offline_access", "resource", dvAPI)
	b := s.browser(t)

	entry := b.open(a.VerificationURIComplete)
	wantPageHeaders(t, entry)
	if got := b.form(entry).Values().Get("user_code"); got != a.UserCode {
		t.Fatalf("the code form of verification_uri_complete holds %q, want %q pre-filled", got, a.UserCode)
	}
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending")

	login := b.enter(entry, strings.ToLower(strings.ReplaceAll(a.UserCode, "-", " "))) // case and separators do not matter
	if !login.is("/device/login") || !strings.Contains(login.body, "Living Room TV") {
		t.Fatalf("after the code: %d, want the login page naming the client:\n%.1500s", login.status, login.body)
	}
	wantPageHeaders(t, login)
	consent := b.follow(b.submit(login, nil))
	wantPageHeaders(t, consent)
	for _, want := range []string{"Living Room TV", "alice", a.UserCode, "Only continue if you started this on a device you own",
		"Never enter a code someone sent you", "Read your data", "Keep access while you are away", dvAPI, `value="approve"`, `value="deny"`} {
		if !strings.Contains(consent.body, want) {
			t.Errorf("the consent page lacks %q (S195)", want)
		}
	}
	s.Clock.Advance(5 * time.Second)
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending") // showing consent decides nothing

	done := b.decide(consent, "approve")
	if done.status != http.StatusOK || !strings.Contains(done.body, "Device connected") {
		t.Fatalf("approve answered %d:\n%.1500s", done.status, done.body)
	}
	wantPageHeaders(t, done)
	s.Clock.Advance(5 * time.Second)
	tok := wantToken(t, s.poll(t, "tv", a.DeviceCode))
	if tok["scope"] != "openid profile read offline_access" || tok["refresh_token"] == nil || tok["id_token"] == nil {
		t.Fatalf("token response %v, want the scopes, a refresh token and an ID token", tok)
	}
	_, claims := azJWT(t, tok["access_token"].(string))
	if claims["sub"] != s.user.ID || claims["client_id"] != "tv" || claims["aud"] != dvAPI || claims["auth_time"] == nil {
		t.Errorf("access token claims %v, want alice's sub, client tv, aud %s and auth_time", claims, dvAPI)
	}
	_, idClaims := azJWT(t, tok["id_token"].(string))
	if idClaims["sub"] != s.user.ID || idClaims["aud"] != "tv" || idClaims["name"] != "Alice Liddell" {
		t.Errorf("ID token claims %v", idClaims)
	}
	if got := introspect(t, s.Env, "rs", s.rsSecret, tok["access_token"].(string)); got["active"] != true {
		t.Errorf("introspection of the device's token = %v", got)
	}
	// The refresh token works as any other.
	rt := wantToken(t, post(t, s.Env, "/token", formOf("grant_type", "refresh_token", "refresh_token", tok["refresh_token"].(string),
		"client_id", "tv")))
	if rt["scope"] != "openid profile read offline_access" {
		t.Errorf("refreshed scope = %v", rt["scope"])
	}
	if rows := s.countRows(t); rows["grants"] != 1 {
		t.Errorf("grants = %d, want 1", rows["grants"])
	}
}

// TestDeviceFlowSignedIn: a browser with a session goes from the code
// straight to the consent page, which still asks (S195); a client that
// may not refresh gets no refresh token, and no ID token without openid.
func TestDeviceFlowSignedIn(t *testing.T) {
	s := newDV(t, nil)
	b := s.browser(t)
	first := s.tvAuthorize(t, "read")
	b.decide(b.toConsent(first.VerificationURI, first.UserCode), "approve")

	a := s.authorize(t, formOf(), basic("box", s.boxSecret))
	consent := b.follow(b.enter(b.open(a.VerificationURI), a.UserCode))
	if !consent.is("/device/consent") || !strings.Contains(consent.body, "Set-top Box") {
		t.Fatalf("a signed-in browser was not shown the consent page:\n%.1500s", consent.body)
	}
	b.decide(consent, "approve")
	r := post(t, s.Env, "/token", formOf("grant_type", protocol.GrantDeviceCode, "device_code", a.DeviceCode), basic("box", s.boxSecret))
	tok := wantToken(t, r)
	if tok["refresh_token"] != nil || tok["id_token"] != nil || tok["scope"] != "read" {
		t.Errorf("box's tokens %v: want read only, without refresh or ID token", tok)
	}
}

// TestDeviceDeny: a denied request is access_denied for the device and
// never yields tokens, and it cannot be approved afterwards (A24).
func TestDeviceDeny(t *testing.T) {
	s := newDV(t, nil)
	a := s.tvAuthorize(t, "read")
	b := s.browser(t)
	consent := b.toConsent(a.VerificationURI, a.UserCode)
	done := b.decide(consent, "deny")
	if done.status != http.StatusOK || !strings.Contains(done.body, "Request denied") {
		t.Fatalf("deny answered %d:\n%.1500s", done.status, done.body)
	}
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "access_denied")
	// The same consent form again, now with Approve: the code is decided.
	wantNotValid(t, b.decide(consent, "approve"))
	wantNotValid(t, b.enter(b.open(a.VerificationURI), a.UserCode))
	s.Clock.Advance(5 * time.Second)
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "access_denied")
}

// TestDeviceLoginPage: the device flow signs in with the login page and
// the guessing limits of /authorize (the same counters), one generic
// message, and only the login's own form leads on.
func TestDeviceLoginPage(t *testing.T) {
	s := newDV(t, nil)
	a := s.tvAuthorize(t, "read")
	b := s.browser(t)
	login := b.enter(b.open(a.VerificationURI), a.UserCode)
	for i := range s.Config.Limits.PerUsername {
		again := b.submit(login, url.Values{"password": {"wrong"}})
		if !again.is("/device/login") || !strings.Contains(again.body, "The username or password is incorrect.") {
			t.Fatalf("wrong password %d: %d\n%.1500s", i+1, again.status, again.body)
		}
	}
	limited := b.submit(login, nil) // the right password, while limited
	if !limited.is("/device/login") || !strings.Contains(limited.body, "Too many failed attempts") {
		t.Fatalf("after %d wrong passwords the right one was not held back:\n%.1500s", s.Config.Limits.PerUsername, limited.body)
	}
	if rows := s.queryStrings(t, "SELECT key FROM throttles WHERE key LIKE 'pw:user:%'"); len(rows) != 1 || rows[0] != "pw:user:alice" {
		t.Errorf("throttles %q, want the password grant's own pw:user:alice counter", rows)
	}
	s.Clock.Advance(s.Config.Limits.BaseDelay)
	b.follow(b.submit(login, nil))
	// A login form whose code was changed is refused (its token names the code).
	other := s.tvAuthorize(t, "read")
	b2 := s.browser(t)
	login = b2.enter(b2.open(a.VerificationURI), other.UserCode)
	forged := b2.submit(login, url.Values{"request": {"user_code=" + strings.ReplaceAll(a.UserCode, "-", "")}})
	if forged.status != http.StatusForbidden {
		t.Errorf("a login form carrying another code answered %d, want 403", forged.status)
	}
}

// wantPageHeaders checks the headers every page carries: no framing
// (clickjacking, S136, S195), no caching, no Referer.
func wantPageHeaders(t testing.TB, p dvPage) {
	t.Helper()
	for name, want := range map[string]string{
		"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
		"X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8",
	} {
		if got := p.header.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", p.url.Path, name, got, want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy %q lacks frame-ancestors 'none'", p.url.Path, csp)
	}
}
