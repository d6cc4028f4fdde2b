package server_test

// The account page over HTTP: CSRF on every form (S223, A7), framing and
// caching headers (S136, A9, A10), the password rules, sessions' last seen
// written at most every few minutes, and nothing changed by a refused form.

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/password"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// accountBrowser signs b in through /account and returns the account page.
func accountBrowser(t *testing.T, s *azSetup, b *azBrowser) azResp {
	t.Helper()
	page := b.get(s.URL + "/account")
	if page.status != http.StatusOK || !strings.Contains(page.body, `action="/account/login"`) {
		t.Fatalf("signed-out /account: %d\n%.1500s", page.status, page.body)
	}
	r := b.post(s.URL+"/account/login", url.Values{"csrf": {loginCSRF(t, page.body)}, "username": {azUser}, "password": {azPassword}})
	if r.status != http.StatusSeeOther || r.location() != s.URL+"/account" {
		t.Fatalf("account login: %d to %q\n%.1500s", r.status, r.location(), r.body)
	}
	return accountPage(t, s, b)
}

// accountPage GETs /account signed in.
func accountPage(t *testing.T, s *azSetup, b *azBrowser) azResp {
	t.Helper()
	page := b.get(s.URL + "/account")
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="account-username"`) {
		t.Fatalf("/account: %d\n%.1500s", page.status, page.body)
	}
	return page
}

var loginField = regexp.MustCompile(`action="/account/login">\s*<input type="hidden" name="csrf" value="([^"]+)"`)

// loginCSRF is the CSRF token of the account's sign-in form in body.
func loginCSRF(t *testing.T, body string) string {
	t.Helper()
	m := loginField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no account sign-in form in\n%.1500s", body)
	}
	return m[1]
}

var csrfField = regexp.MustCompile(`action="(/account/[a-z/]+)"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"`)

// accountTokens returns each form's CSRF token by its action.
func accountTokens(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range csrfField.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	for _, want := range []string{"/account/password", "/account/sessions/end"} {
		if out[want] == "" {
			t.Fatalf("no CSRF token for %s in\n%.2000s", want, body)
		}
	}
	return out
}

func TestAccountHeaders_S136_A9(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	for name, r := range map[string]azResp{"signed out": b.get(s.URL + "/account"), "signed in": accountBrowser(t, s, b)} {
		h := r.header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", name, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store",
			"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", name, k, got, want)
			}
		}
	}
	// Each form posts only; the page is read only.
	if r := b.post(s.URL+"/account", url.Values{}); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /account: %d Allow %q", r.status, r.header.Get("Allow"))
	}
	for _, p := range []string{"/account/login", "/account/password", "/account/sessions/end", "/account/consents/withdraw"} {
		if r := b.get(s.URL + p); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
			t.Errorf("GET %s: %d Allow %q", p, r.status, r.header.Get("Allow"))
		}
	}
}

func TestAccountCSRF_A7(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	page := accountBrowser(t, s, b)
	tokens := accountTokens(t, page.body)
	other := s.browser(t)
	otherTokens := accountTokens(t, accountBrowser(t, s, other).body)
	before, err := s.Store.GetUser(context.Background(), s.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	change := url.Values{"current_password": {azPassword}, "new_password": {"a brand new one"}, "confirm_password": {"a brand new one"}}
	for name, csrf := range map[string]string{
		"none":               "",
		"wrong":              "AAAA" + tokens["/account/password"][4:],
		"another form's":     tokens["/account/sessions/end"],
		"another session's":  otherTokens["/account/password"],
		"the sign-in form's": loginCSRF(t, s.browser(t).get(s.URL+"/account").body),
	} {
		f := url.Values{}
		for k, v := range change {
			f[k] = v
		}
		if csrf != "" {
			f.Set("csrf", csrf)
		}
		if r := b.post(s.URL+"/account/password", f); r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
			t.Errorf("%s token: %d\n%.500s", name, r.status, r.body)
		}
	}
	after, _ := s.Store.GetUser(context.Background(), s.user.ID)
	if after.PasswordHash != before.PasswordHash {
		t.Fatal("a refused form changed the password")
	}
	// Ending the other browser's session without a token ends nothing.
	sessions, _ := s.Store.ListSessions(context.Background(), s.user.ID, s.Clock.Now())
	for _, sess := range sessions {
		b.post(s.URL+"/account/sessions/end", url.Values{"sid": {sess.SID}})
		b.post(s.URL+"/account/consents/withdraw", url.Values{"client_id": {"web"}, "csrf": {tokens["/account/sessions/end"]}})
	}
	if left, _ := s.Store.ListSessions(context.Background(), s.user.ID, s.Clock.Now()); len(left) != 2 {
		t.Fatalf("%d sessions left after forms without a token, want 2", len(left))
	}
	// A signed-out POST goes back to the sign-in page and changes nothing.
	r := s.browser(t).post(s.URL+"/account/password", change)
	if r.status != http.StatusSeeOther || r.location() != s.URL+"/account" {
		t.Fatalf("signed-out POST: %d %q", r.status, r.location())
	}
}

func TestAccountPasswordRules(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	tokens := accountTokens(t, accountBrowser(t, s, b).body)
	post := func(current, next, confirm string) azResp {
		return b.post(s.URL+"/account/password", url.Values{"csrf": {tokens["/account/password"]},
			"current_password": {current}, "new_password": {next}, "confirm_password": {confirm}})
	}
	for _, tc := range []struct{ current, next, confirm, want string }{
		{azPassword, "long enough", "long enouhg", "The two new passwords differ."},
		{azPassword, "seven!!", "seven!!", "too short: use at least 8 characters"},
		{azPassword, strings.Repeat("é", 513), strings.Repeat("é", 513), "too long: use at most 1024 bytes"},
		{azPassword, azPassword, azPassword, "must differ from the current one"},
		{"wrong", "long enough", "long enough", "The current password is incorrect."},
		{"", "long enough", "long enough", "The current password is incorrect."},
	} {
		r := post(tc.current, tc.next, tc.confirm)
		if r.status != http.StatusOK || !strings.Contains(r.body, tc.want) || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("new %q: %d, want the message %q\n%.300s", tc.next[:min(len(tc.next), 12)], r.status, tc.want, r.body)
		}
	}
	u, _ := s.Store.GetUser(context.Background(), s.user.ID)
	if ok, _ := password.Check(azPassword, u.PasswordHash); !ok {
		t.Fatal("a refused change changed the password")
	}
	// Success: the hash changes, other sessions end, this one stays.
	other := s.browser(t)
	accountBrowser(t, s, other)
	r := post(azPassword, "long enough", "long enough")
	if r.status != http.StatusSeeOther || r.location() != s.URL+"/account?done=password" {
		t.Fatalf("change: %d %q\n%.500s", r.status, r.location(), r.body)
	}
	u, _ = s.Store.GetUser(context.Background(), s.user.ID)
	if ok, _ := password.Check("long enough", u.PasswordHash); !ok || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("stored hash %q does not check the new password", u.PasswordHash)
	}
	if left, _ := s.Store.ListSessions(context.Background(), s.user.ID, s.Clock.Now()); len(left) != 1 {
		t.Fatalf("%d sessions after the change, want only this one", len(left))
	}
	if page := other.get(s.URL + "/account"); !strings.Contains(page.body, `action="/account/login"`) {
		t.Fatal("the other browser is still signed in")
	}
	if page := b.get(r.location()); !strings.Contains(page.body, "Your password was changed.") {
		t.Fatal("no notice after the change")
	}
	if strings.Contains(s.Logs.String(), "long enough") || strings.Contains(s.Logs.String(), azPassword) {
		t.Fatal("a password reached the logs")
	}
}

func TestAccountConfigUserCannotChangePassword(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	h, err := password.Hash("managed pw", testenv.FastHashing(), strings.NewReader(strings.Repeat("x", 64)))
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: "carol-id", Username: "carol", PasswordHash: h, Source: "config"}
	if err := s.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	b := s.browser(t)
	page := b.get(s.URL + "/account")
	b.post(s.URL+"/account/login", url.Values{"csrf": {loginCSRF(t, page.body)}, "username": {"carol"}, "password": {"managed pw"}})
	page = b.get(s.URL + "/account")
	if !strings.Contains(page.body, `id="password-managed"`) || strings.Contains(page.body, `id="password-form"`) {
		t.Fatalf("a config user's page:\n%.1500s", page.body)
	}
}

func TestAccountLastSeenWrittenRarely(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	accountBrowser(t, s, b)
	lastSeen := func() time.Time {
		sessions, err := s.Store.ListSessions(context.Background(), s.user.ID, s.Clock.Now())
		if err != nil || len(sessions) != 1 {
			t.Fatalf("sessions %v %v", sessions, err)
		}
		return sessions[0].LastSeenAt
	}
	first := lastSeen()
	s.Clock.Advance(4 * time.Minute)
	accountPage(t, s, b)
	b.authorize(azReq("web"))
	if got := lastSeen(); !got.Equal(first) {
		t.Fatalf("last seen written after 4 minutes: %v → %v", first, got)
	}
	s.Clock.Advance(2 * time.Minute)
	page := accountPage(t, s, b)
	if got := lastSeen(); !got.After(first.Add(5 * time.Minute)) {
		t.Fatalf("last seen %v not moved after 6 minutes (first %v)", got, first)
	}
	if !strings.Contains(page.body, "Go program") || !strings.Contains(page.body, "127.0.0.1") {
		t.Fatalf("the session row does not show the device and address:\n%.2000s", page.body)
	}
}

func TestAccountWithdrawUnknownAndEndUnknown(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	b.code(azReq("web")) // alice consents to web
	tokens := accountTokens(t, accountPage(t, s, b).body)
	if tokens["/account/consents/withdraw"] == "" {
		t.Fatal("no remove-access form for web")
	}
	for _, c := range []string{"", "nobody", "Web web"} {
		r := b.post(s.URL+"/account/consents/withdraw", url.Values{"csrf": {tokens["/account/consents/withdraw"]}, "client_id": {c}})
		if r.status != http.StatusSeeOther || r.location() != s.URL+"/account" {
			t.Errorf("withdraw %q: %d %q", c, r.status, r.location())
		}
	}
	if !s.azConsented(t, "web") {
		t.Fatal("withdrawing another client's consent removed web's")
	}
	r := b.post(s.URL+"/account/sessions/end", url.Values{"csrf": {tokens["/account/sessions/end"]}, "sid": {"not-a-session"}})
	if r.status != http.StatusSeeOther || r.location() != s.URL+"/account" {
		t.Errorf("end unknown: %d %q", r.status, r.location())
	}
	if left, _ := s.Store.ListSessions(context.Background(), s.user.ID, s.Clock.Now()); len(left) != 1 {
		t.Fatalf("%d sessions, want 1", len(left))
	}
	// Another user's session cannot be ended by its sid.
	bob := s.AddUser(t, "bob", "bob's password", nil)
	bb := s.browser(t)
	page := bb.get(s.URL + "/account")
	bb.post(s.URL+"/account/login", url.Values{"csrf": {loginCSRF(t, page.body)}, "username": {"bob"}, "password": {"bob's password"}})
	bobs, _ := s.Store.ListSessions(context.Background(), bob.ID, s.Clock.Now())
	if len(bobs) != 1 {
		t.Fatalf("bob has %d sessions", len(bobs))
	}
	b.post(s.URL+"/account/sessions/end", url.Values{"csrf": {tokens["/account/sessions/end"]}, "sid": {bobs[0].SID}})
	if still, _ := s.Store.ListSessions(context.Background(), bob.ID, s.Clock.Now()); len(still) != 1 {
		t.Fatal("alice ended bob's session")
	}
	if r := b.post(s.URL+"/account/password", nil); r.status != http.StatusForbidden {
		t.Fatalf("an empty form: %d", r.status)
	}
	if r := b.post(s.URL+"/account/password?%zz", nil); r.status != http.StatusForbidden && r.status != http.StatusBadRequest {
		t.Fatalf("a malformed query: %d", r.status)
	}
}

// The account page's audit events: password.changed, session.ended for
// each other session it ends and for one ended by hand, and
// consent.withdrawn with the number of grants revoked; none holds a
// password or token.
func TestAccountAuditEvents(t *testing.T) {
	a := newAuditAZ(t, nil)
	a.secrets = append(a.secrets, "a new password!")
	other := a.browser(t)
	params, verifier := azParams("web") // a consent and a grant, in another session
	if resp, _ := azRedeem(t, a.Env, "web", a.secret, other.code(params), verifier); resp.status != http.StatusOK {
		t.Fatalf("redeem: %d %s", resp.status, resp.body)
	}
	b := a.browser(t)
	tokens := accountTokens(t, accountBrowser(t, a.azSetup, b).body)

	r := b.post(a.URL+"/account/password", url.Values{"csrf": {tokens["/account/password"]},
		"current_password": {azPassword}, "new_password": {"a new password!"}, "confirm_password": {"a new password!"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("change password: %d", r.status)
	}
	changed := a.waitEvents(t, audit.PasswordChanged, 1)
	wantFields(t, changed[0], store.AuditEvent{Actor: a.user.ID, UserID: a.user.ID, IP: "127.0.0.1"})
	ended := a.waitEvents(t, audit.SessionEnded, 1)
	wantFields(t, ended[0], store.AuditEvent{Actor: a.user.ID, UserID: a.user.ID, Details: map[string]string{"via": "password_changed"}})

	page := accountPage(t, a.azSetup, b)
	tokens = accountTokens(t, page.body)
	r = b.post(a.URL+"/account/consents/withdraw", url.Values{"csrf": {tokens["/account/consents/withdraw"]}, "client_id": {"web"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("withdraw: %d", r.status)
	}
	withdrawn := a.waitEvents(t, audit.ConsentWithdrawn, 1)
	wantFields(t, withdrawn[0], store.AuditEvent{Actor: a.user.ID, UserID: a.user.ID, ClientID: "web",
		Details: map[string]string{"via": "account", "grants_revoked": "1"}})

	sessions, _ := a.Store.ListSessions(context.Background(), a.user.ID, a.Clock.Now())
	r = b.post(a.URL+"/account/sessions/end", url.Values{"csrf": {tokens["/account/sessions/end"]}, "sid": {sessions[0].SID}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("end session: %d", r.status)
	}
	ended = a.waitEvents(t, audit.SessionEnded, 2)
	wantFields(t, ended[1], store.AuditEvent{Actor: a.user.ID, UserID: a.user.ID,
		Details: map[string]string{"via": "account", "sid": sessions[0].SID}})
	a.noSecrets(t)
}
