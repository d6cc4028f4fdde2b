package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testkit"
)

// dvLimits sets the guessing limits of a device test; the base delay is
// long enough that nothing expires mid-test.
func dvLimits(perSession, perIP int) func(*server.Config) {
	return func(c *server.Config) {
		c.Limits.PerUsername, c.Limits.PerIP, c.Limits.BaseDelay = perSession, perIP, time.Minute
	}
}

// wrongCode is a well-formed user code that no request has: codes with a
// vowel cannot be drawn, so this one is never live.
func wrongCode(i int) string { return fmt.Sprintf("BCDF-GH%c%c", "BCDFG"[i%5], "JKLMN"[i/5%5]) }

// wantTooMany checks the answer past the guessing limits: 429 with
// Retry-After and the code form saying so (A24).
func wantTooMany(t *testing.T, p dvPage) {
	t.Helper()
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, `action="/device"`) || !strings.Contains(p.body, "Too many attempts") {
		t.Fatalf("want 429 and the code form saying too many attempts, got %d:\n%.1500s", p.status, p.body)
	}
	if secs, err := strconv.Atoi(p.header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q, want a positive number of seconds", p.header.Get("Retry-After"))
	}
}

// TestA24UserCodeGuessingPerBrowser: after the limit of wrong codes from
// one browser, every attempt waits, the right code included, and is not
// even looked up; another browser is not held back; after the delay the
// right code works (RFC 8628 §5.1, S193, A24).
func TestA24UserCodeGuessingPerBrowser(t *testing.T) {
	s := newDV(t, dvLimits(3, 100))
	a := s.tvAuthorize(t, "read")
	b := s.browser(t)
	entry := b.open(a.VerificationURI)
	for i := range 3 {
		wantNotValid(t, b.enter(entry, wrongCode(i)))
	}
	wantTooMany(t, b.enter(entry, a.UserCode))
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending")
	if p := s.browser(t).toConsent(a.VerificationURI, a.UserCode); !strings.Contains(p.body, "Living Room TV") {
		t.Fatal("another browser was held back by the first one's guesses")
	}
	s.Clock.Advance(time.Minute)
	if p := b.enter(entry, a.UserCode); !p.is("/device/login") {
		t.Fatalf("after the delay the right code got %d:\n%.1500s", p.status, p.body)
	}
}

// TestA24UserCodeGuessingPerIP: a guesser who drops its cookies after
// every attempt is still counted by its address, in the store, so every
// instance agrees (A24).
func TestA24UserCodeGuessingPerIP(t *testing.T) {
	s := newDV(t, dvLimits(100, 3))
	a := s.tvAuthorize(t, "read")
	for i := range 3 {
		b := s.browser(t)
		wantNotValid(t, b.enter(b.open(a.VerificationURI), wrongCode(i)))
	}
	b := s.browser(t)
	wantTooMany(t, b.enter(b.open(a.VerificationURI), a.UserCode))
	keys := s.queryStrings(t, "SELECT key || '=' || CAST(failures AS TEXT) FROM throttles WHERE key LIKE 'device:ip:%'")
	if len(keys) != 1 || keys[0] != "device:ip:127.0.0.1=3" {
		t.Errorf("the store's counters %q, want device:ip:127.0.0.1=3", keys)
	}
}

// TestA24UserCodeGuessingSignedIn: a signed-in guesser is counted under
// its session too.
func TestA24UserCodeGuessingSignedIn(t *testing.T) {
	s := newDV(t, dvLimits(100, 100))
	a := s.tvAuthorize(t, "read")
	b := s.browser(t)
	b.decide(b.toConsent(a.VerificationURI, a.UserCode), "approve")
	wantNotValid(t, b.enter(b.open(a.VerificationURI), wrongCode(0)))
	if keys := s.queryStrings(t, "SELECT key FROM throttles WHERE key LIKE 'device:session:%'"); len(keys) != 1 {
		t.Errorf("session counters %q, want one", keys)
	}
}

// TestA24UserCodeGuessesAtOnce: guesses sent together see each other's
// failures (they are checked in the slots of the hash gate), so no burst
// gets many more than the limit checked.
func TestA24UserCodeGuessesAtOnce(t *testing.T) {
	const limit, burst = 3, 24
	s := newDV(t, dvLimits(limit, 1000))
	b := s.browser(t)
	entry := b.open(s.URL + "/device")
	pages := make([]dvPage, burst)
	testkit.AtOnce(burst, func(i int) error {
		pages[i] = b.enter(entry, wrongCode(i))
		return nil
	})
	checked := 0
	for _, p := range pages {
		switch p.status {
		case http.StatusOK:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("a guess got %d", p.status)
		}
	}
	if most := limit + runtime.GOMAXPROCS(0); checked > most {
		t.Errorf("%d of %d simultaneous guesses were checked, want at most %d", checked, burst, most)
	}
}

// TestA24NotValidSaysNothing: unknown, malformed, expired, denied and used
// codes all get the same "not valid", and nothing of the request (S193).
func TestA24NotValidSaysNothing(t *testing.T) {
	s := newDV(t, generous)
	denied, used, expired := s.tvAuthorize(t, "read"), s.tvAuthorize(t, "read"), s.tvAuthorize(t, "read")
	b := s.browser(t)
	b.decide(b.toConsent(denied.VerificationURI, denied.UserCode), "deny")
	b.decide(b.toConsent(used.VerificationURI, used.UserCode), "approve")
	wantToken(t, s.poll(t, "tv", used.DeviceCode))
	entry := b.open(s.URL + "/device")
	for _, code := range []string{wrongCode(0), "BCDF", "not a code at all", denied.UserCode, used.UserCode} {
		wantNotValid(t, b.enter(entry, code))
	}
	s.Clock.Advance(10 * time.Minute)
	wantNotValid(t, b.enter(b.open(s.URL+"/device"), expired.UserCode))
}

// TestA24ExpiredCode: a code expires for the user and the device alike;
// a consent page left open past expiry approves nothing (RFC 8628 §3.5,
// S193).
func TestA24ExpiredCode(t *testing.T) {
	s := newDV(t, nil)
	a := s.tvAuthorize(t, "read")
	b := s.browser(t)
	consent := b.toConsent(a.VerificationURI, a.UserCode)
	s.Clock.Advance(10 * time.Minute)
	wantNotValid(t, b.decide(consent, "approve"))
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "expired_token")
	if n := s.countRows(t)["grants"]; n != 0 {
		t.Errorf("an expired code left %d grants", n)
	}
}

// TestA24DeviceCodeRedeemedTwice: the second redemption is invalid_grant,
// and what the first issued is revoked: the code has leaked (S191, S019).
func TestA24DeviceCodeRedeemedTwice(t *testing.T) {
	s := newDV(t, nil)
	a := s.tvAuthorize(t, "read offline_access")
	s.approveDevice(t, a)
	tok := wantToken(t, s.poll(t, "tv", a.DeviceCode))
	s.Clock.Advance(5 * time.Second)
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "invalid_grant")
	wantInactive(t, introspect(t, s.Env, "rs", s.rsSecret, tok["access_token"].(string)))
	wantOAuthError(t, post(t, s.Env, "/token", formOf("grant_type", "refresh_token", "client_id", "tv",
		"refresh_token", tok["refresh_token"].(string))), http.StatusBadRequest, "invalid_grant")
}

// TestA24DeviceCodeRedeemedAtOnce: of polls that race for one approved
// code, exactly one gets tokens (S191).
func TestA24DeviceCodeRedeemedAtOnce(t *testing.T) {
	s := newDV(t, nil)
	a := s.tvAuthorize(t, "read")
	s.approveDevice(t, a)
	const n = 8
	results := make([]result, n)
	testkit.AtOnce(n, func(i int) error {
		results[i] = s.poll(t, "tv", a.DeviceCode)
		return nil
	})
	won := 0
	for _, r := range results {
		switch {
		case r.Status == http.StatusOK:
			won++
		case r.Status != http.StatusBadRequest:
			t.Fatalf("a racing poll got %d %s", r.Status, r.Body)
		}
	}
	if won != 1 {
		t.Errorf("%d racing polls got tokens, want exactly 1", won)
	}
}

// TestA24OtherClientsDeviceCode: another client presenting the device
// code, even approved, gets invalid_grant and spoils nothing (S191).
func TestA24OtherClientsDeviceCode(t *testing.T) {
	s := newDV(t, nil)
	a := s.tvAuthorize(t, "read")
	s.approveDevice(t, a)
	s.wantPoll(t, post(t, s.Env, "/token", formOf("grant_type", protocol.GrantDeviceCode, "device_code", a.DeviceCode),
		basic("box", s.boxSecret)), "invalid_grant")
	wantToken(t, s.poll(t, "tv", a.DeviceCode))
}

// TestA24ApprovalCSRF: the approval form is refused cross-site (no
// cookies), without a token, with a wrong one, with the attacker's own
// session's token for the same code, and with the victim's token for
// another code; the request stays pending (A24, S195).
func TestA24ApprovalCSRF(t *testing.T) {
	s := newDV(t, generous)
	a, other := s.tvAuthorize(t, "read"), s.tvAuthorize(t, "read")
	victim, attacker := s.browser(t), s.browser(t)
	consent := victim.toConsent(a.VerificationURI, a.UserCode)
	mine := victim.form(consent).Values()
	mine.Set("decision", "approve")
	theirs := attacker.form(attacker.toConsent(a.VerificationURI, a.UserCode)).Values()
	otherCSRF := victim.form(victim.toConsent(other.VerificationURI, other.UserCode)).Values().Get("csrf")
	approve := func(csrf, code string) url.Values {
		return url.Values{"csrf": {csrf}, "user_code": {code}, "decision": {"approve"}}
	}
	for _, tc := range []struct {
		name string
		b    *dvBrowser
		form url.Values
	}{
		{"cross-site (no cookies)", s.browser(t), mine},
		{"no token", victim, approve("", a.UserCode)},
		{"wrong token", victim, approve(strings.Repeat("A", 43), a.UserCode)},
		{"the attacker's token", victim, approve(theirs.Get("csrf"), a.UserCode)},
		{"a token for another code", victim, approve(otherCSRF, a.UserCode)},
	} {
		if p := tc.b.send(http.MethodPost, s.URL+"/device/consent", tc.form); p.status != http.StatusForbidden {
			t.Errorf("%s: answered %d, want 403", tc.name, p.status)
		}
	}
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending")
	if p := victim.send(http.MethodPost, s.URL+"/device/consent", mine); !strings.Contains(p.body, "Device connected") {
		t.Fatalf("the victim's own form was refused: %d", p.status)
	}
}

// TestS195VerificationURIComplete: arriving from verification_uri_complete,
// even signed in, the user sees the code pre-filled and must go on to the
// consent page with its phishing warning and press Approve; no GET
// approves, and the consent link works for its own session only.
func TestS195VerificationURIComplete(t *testing.T) {
	s := newDV(t, generous)
	a := s.tvAuthorize(t, "read")
	b := s.browser(t)
	first := s.tvAuthorize(t, "read")
	b.decide(b.toConsent(first.VerificationURI, first.UserCode), "approve") // signed in now

	entry := b.open(a.VerificationURIComplete)
	if !entry.is("/device") || b.form(entry).Values().Get("user_code") != a.UserCode {
		t.Fatalf("verification_uri_complete showed %d, want the code form pre-filled:\n%.1500s", entry.status, entry.body)
	}
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending")
	link := b.enter(entry, a.UserCode)
	consent := b.follow(link)
	if !strings.Contains(consent.body, `id="phishing-warning"`) || !strings.Contains(consent.body, "Never enter a code someone sent you") {
		t.Fatalf("the consent page has no phishing warning:\n%.2000s", consent.body)
	}
	loc := link.header.Get("Location")
	b.open(loc + "&decision=approve")
	b.send(http.MethodHead, loc, nil)
	s.Clock.Advance(5 * time.Second)
	s.wantPoll(t, s.poll(t, "tv", a.DeviceCode), "authorization_pending")

	// The link in another browser leads to the code form, not the consent.
	stranger := s.browser(t).open(loc)
	if stranger.status != http.StatusSeeOther || !strings.HasPrefix(stranger.header.Get("Location"), s.URL+"/device?") {
		t.Errorf("the consent link in another browser answered %d %q, want 303 to the code form", stranger.status, stranger.header.Get("Location"))
	}
	b.decide(consent, "approve")
	s.Clock.Advance(5 * time.Second)
	wantToken(t, s.poll(t, "tv", a.DeviceCode))
}

// TestDevicePageMethods: the pages answer their methods only, with the
// error page.
func TestDevicePageMethods(t *testing.T) {
	s := newDV(t, nil)
	b := s.browser(t)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPut, "/device"}, {http.MethodGet, "/device/login"}, {http.MethodDelete, "/device/consent"},
	} {
		p := b.send(tc.method, s.URL+tc.path, nil)
		if p.status != http.StatusMethodNotAllowed || p.header.Get("Allow") == "" {
			t.Errorf("%s %s: %d Allow %q, want 405 with Allow", tc.method, tc.path, p.status, p.header.Get("Allow"))
		}
	}
	if p := b.open(s.URL + "/device?user_code=a&user_code=b"); p.status != http.StatusBadRequest {
		t.Errorf("a repeated user_code answered %d, want 400", p.status)
	}
	if p := b.open(s.URL + "/device?user_code=%3Cscript%3E"); !p.is("/device") || strings.Contains(p.body, "<script>") {
		t.Errorf("a malformed pre-filled code was echoed: %d", p.status)
	}
}
