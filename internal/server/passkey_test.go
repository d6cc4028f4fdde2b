package server_test

// Passkeys over HTTP, with a passkey held in the test (softKey): the
// begin endpoints' JSON and their refusals (CSRF, method, no ceremony),
// enrolment on the account page, the second step after the password,
// passwordless sign-in, the challenge used once whatever comes of it
// (a replayed assertion, on the same instance or another, is refused),
// the signature counter (backwards refused and audited, an authenticator
// without a counter accepted), step-up to phishing_resistant asking for a
// passkey only, and the pages' security headers. (In Chromium:
// passkey_browser_test.go; hostile JSON: passkey_fuzz_test.go.)

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/web"
)

// newPasskeyAZ is newAuditAZ with the issuer at localhost (a relying
// party id is a domain name).
func newPasskeyAZ(t *testing.T) *auditAZ {
	t.Helper()
	return newAuditAZWith(t, testenv.Options{Localhost: true}, nil)
}

// enrolPasskey signs b in on /account and adds k as a passkey named name;
// it returns the page the enrolment ends on.
func enrolPasskey(t *testing.T, s *azSetup, b *azBrowser, k *softKey, name string) azResp {
	t.Helper()
	return addPasskey(t, s, b, accountBrowser(t, s, b), k, name)
}

// addPasskey adds k from the account page b shows.
func addPasskey(t *testing.T, s *azSetup, b *azBrowser, page azResp, k *softKey, name string) azResp {
	t.Helper()
	if csp := page.header.Get("Content-Security-Policy"); csp != web.ScriptCSP {
		t.Fatalf("account page CSP %q, want %q", csp, web.ScriptCSP)
	}
	tok := accountTokens(t, page.body)["/account/passkeys"]
	r := b.begin("/account/passkeys/begin", tok)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("begin registration: %d %v\n%s", r.status, r.header, r.body)
	}
	var raw struct {
		PublicKey struct {
			RP                     struct{ ID string }
			AuthenticatorSelection struct {
				ResidentKey      string `json:"residentKey"`
				UserVerification string `json:"userVerification"`
			} `json:"authenticatorSelection"`
			Attestation string `json:"attestation"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(r.body), &raw); err != nil {
		t.Fatal(err)
	}
	sel := raw.PublicKey.AuthenticatorSelection
	if raw.PublicKey.RP.ID != "localhost" || sel.ResidentKey != "required" || sel.UserVerification != "preferred" || raw.PublicKey.Attestation != "none" {
		t.Fatalf("registration options: %s", r.body)
	}
	cred := k.create(t, parseOptions(t, r.body), s.URL)
	return b.post(s.URL+"/account/passkeys", url.Values{"csrf": {tok}, "name": {name}, "credential": {cred}})
}

// passkeyFactors are the user's stored passkeys.
func passkeyFactors(t *testing.T, s *azSetup) []store.Factor {
	t.Helper()
	all, err := s.Store.ListFactors(context.Background(), s.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(f store.Factor) bool { return f.Kind != store.FactorWebAuthn })
}

// newestSession is the user's most recent session.
func newestSession(t *testing.T, s *azSetup) store.Session {
	t.Helper()
	all, err := s.Store.ListSessions(context.Background(), s.user.ID, s.Clock.Now())
	if err != nil || len(all) == 0 {
		t.Fatalf("sessions %v (%v)", all, err)
	}
	last := all[0]
	for _, o := range all {
		if !o.CreatedAt.Before(last.CreatedAt) {
			last = o
		}
	}
	return last
}

// passwordless begins a passwordless sign-in on the account's sign-in
// page and returns the form to finish it (without the credential) and
// the options.
func passwordless(t *testing.T, s *azSetup, b *azBrowser) (url.Values, options) {
	t.Helper()
	page := b.get(s.URL + "/account")
	csrf := passkeyLoginCSRF(t, page.body)
	r := b.begin("/login/passkey/begin", csrf)
	if r.status != http.StatusOK {
		t.Fatalf("begin passwordless: %d %s", r.status, r.body)
	}
	return url.Values{"csrf": {csrf}}, parseOptions(t, r.body)
}

func TestPasskeyEnrolAndSignIn(t *testing.T) {
	s := newPasskeyAZ(t)
	k := newSoftKey(t)
	b := s.browser(t)
	r := enrolPasskey(t, s.azSetup, b, k, "  Work   laptop ")
	if r.status != http.StatusOK || strings.Count(r.body, `class="recovery-code"`) != 10 {
		t.Fatalf("first passkey: %d, want the ten recovery codes\n%.2000s", r.status, r.body)
	}
	pks := passkeyFactors(t, s.azSetup)
	if len(pks) != 1 || pks[0].Label != "Work laptop" || !pks[0].Confirmed() || pks[0].Counter != 0 {
		t.Fatalf("stored passkeys %+v", pks)
	}
	// A second passkey is added beside the first, without new codes.
	k2 := newSoftKey(t)
	k2.be, k2.bs = true, true // synced
	if r := addPasskey(t, s.azSetup, b, accountPage(t, s.azSetup, b), k2, "Phone"); r.status != http.StatusSeeOther || r.location() != s.URL+"/account?done=passkey" {
		t.Fatalf("second passkey: %d %q\n%.1500s", r.status, r.location(), r.body)
	}
	page := accountPage(t, s.azSetup, b)
	for _, want := range []string{`class="passkey-name">Work laptop<`, `class="passkey-name">Phone<`, "device-bound passkey", "synced passkey"} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("account page lacks %q\n%.3000s", want, page.body)
		}
	}

	// The second step after the password offers the passkeys only (no
	// app was set up): the phishing-resistant class, amr hwk.
	b2 := s.browser(t)
	params, verifier := azParams("web")
	mfa := b2.login(b2.authorize(params), azUser, azPassword)
	if mfa.status != http.StatusOK || !strings.Contains(mfa.body, `id="mfa-passkey-form"`) || strings.Contains(mfa.body, `id="totp-form"`) {
		t.Fatalf("second step: %d\n%.2000s", mfa.status, mfa.body)
	}
	if csp := mfa.header.Get("Content-Security-Policy"); csp != web.ScriptCSP || !strings.Contains(mfa.body, `<script src="/assets/passkey.js" defer></script>`) {
		t.Fatalf("second step CSP %q", csp)
	}
	f := hidden(mfa.body)
	opts := b2.begin("/login/mfa/passkey/begin", f.Get("csrf"))
	o := parseOptions(t, opts.body)
	f.Set("credential", k.get(t, o, s.URL))
	r = b2.post(s.URL+"/login/mfa/passkey", f)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location(), s.URL+"/authorize?") {
		t.Fatalf("passkey as second factor: %d %q\n%.1500s", r.status, r.location(), r.body)
	}
	claims, _ := idClaims(t, s.azSetup, finish(t, b2, r).Get("code"), verifier)
	if amr := amrOf(claims); !slices.Equal(amr, []string{"pwd", "hwk", "mfa"}) || claims["acr"] != acrPhishing {
		t.Fatalf("ID token amr %v acr %v", claims["amr"], claims["acr"])
	}
	if got := passkeyFactors(t, s.azSetup); got[0].Counter != 1 {
		t.Fatalf("counter after a use: %+v", got[0])
	}

	// Passwordless with the synced one: swk, user, mfa.
	b3 := s.browser(t)
	form, o := passwordless(t, s.azSetup, b3)
	form.Set("credential", k2.get(t, o, s.URL))
	if r := b3.post(s.URL+"/login/passkey", form); r.status != http.StatusSeeOther || r.location() != s.URL+"/account" {
		t.Fatalf("passwordless: %d %q\n%.1500s", r.status, r.location(), r.body)
	}
	if sess := newestSession(t, s.azSetup); !slices.Equal(sess.AMR, []string{"swk", "user", "mfa"}) || sess.ACR != acrPhishing {
		t.Fatalf("passwordless session amr %v acr %q", sess.AMR, sess.ACR)
	}
	wantAudit(t, s, audit.MFAEnrolled, "", 2)
	wantAudit(t, s, audit.MFASuccess, "", 2)
}

// wantAudit waits for n events of type typ (with reason, when given).
func wantAudit(t *testing.T, s *auditAZ, typ audit.Type, reason string, n int) []store.AuditEvent {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []store.AuditEvent
		evs, err := s.Store.ListAuditEvents(t.Context(), store.AuditQuery{Types: []string{string(typ)}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if reason == "" || e.Reason == reason {
				got = append(got, e)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events (reason %q), want %d", len(got), typ, reason, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPasskeyChallengeSingleUse: an assertion works once. Sent again with
// the same cookies it is refused, and a malformed answer spends the
// challenge too, so the right one after it is refused (A: replay).
func TestPasskeyChallengeSingleUse(t *testing.T) {
	s := newPasskeyAZ(t)
	k := newSoftKey(t)
	enrolPasskey(t, s.azSetup, s.browser(t), k, "key")

	b := s.browser(t)
	form, o := passwordless(t, s.azSetup, b)
	form.Set("credential", k.get(t, o, s.URL))
	ceremony := b.cookieOf("latchkey_passkey")
	if ceremony == nil || !strings.Contains(ceremony.Value, ".") {
		t.Fatalf("no ceremony cookie: %+v", ceremony)
	}
	if r := b.post(s.URL+"/login/passkey", form); r.status != http.StatusSeeOther {
		t.Fatalf("first use: %d\n%.1000s", r.status, r.body)
	}
	if b.cookieOf("latchkey_passkey") != nil {
		t.Error("the ceremony cookie outlived its use")
	}
	// The attacker's copy: the same form and the same cookies.
	replay := s.browser(t)
	u, _ := url.Parse(s.URL)
	replay.c.Jar.SetCookies(u, []*http.Cookie{ceremony, b.cookieOf("latchkey_csrf")})
	r := replay.post(s.URL+"/login/passkey", form)
	if r.status != http.StatusOK || !strings.Contains(r.body, "expired or was used already") || replay.cookieOf("latchkey_session") != nil {
		t.Fatalf("replayed assertion: %d\n%.1500s", r.status, r.body)
	}
	wantAudit(t, s, audit.SigninFailure, audit.ReasonChallengeReused, 1)

	// A malformed answer spends the challenge: the right one after it fails.
	b2 := s.browser(t)
	form, o = passwordless(t, s.azSetup, b2)
	ceremony = b2.cookieOf("latchkey_passkey")
	form.Set("credential", `{"id":`)
	if r := b2.post(s.URL+"/login/passkey", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, "could not be read") {
		t.Fatalf("malformed: %d\n%.1000s", r.status, r.body)
	}
	b2.c.Jar.SetCookies(u, []*http.Cookie{ceremony})
	form.Set("credential", k.get(t, o, s.URL))
	if r := b2.post(s.URL+"/login/passkey", form); r.status != http.StatusOK || !strings.Contains(r.body, "expired or was used already") {
		t.Fatalf("the right answer after a malformed one: %d\n%.1000s", r.status, r.body)
	}
	// A ceremony of another purpose or browser does not finish this one.
	b3 := s.browser(t)
	form, o = passwordless(t, s.azSetup, b3)
	form.Set("credential", k.get(t, o, s.URL))
	stolen := b3.cookieOf("latchkey_passkey")
	b4 := s.browser(t)
	b4.get(s.URL + "/account") // its own CSRF cookie
	b4.c.Jar.SetCookies(u, []*http.Cookie{stolen})
	f4 := url.Values{"csrf": {passkeyLoginCSRF(t, b4.get(s.URL+"/account").body)}, "credential": {form.Get("credential")}}
	if r := b4.post(s.URL+"/login/passkey", f4); r.status != http.StatusOK || !strings.Contains(r.body, "not accepted") {
		t.Fatalf("another browser's ceremony: %d\n%.1000s", r.status, r.body)
	}
}

// TestPasskeyCounter: a counter that does not go up is a clone (WebAuthn
// §7.2 step 21): refused, audited, the stored counter kept. An
// authenticator that keeps no counter (always 0) is accepted.
func TestPasskeyCounter(t *testing.T) {
	s := newPasskeyAZ(t)
	k := newSoftKey(t)
	k.count = 10
	enrolPasskey(t, s.azSetup, s.browser(t), k, "key")
	signIn := func() azResp {
		b := s.browser(t)
		form, o := passwordless(t, s.azSetup, b)
		form.Set("credential", k.get(t, o, s.URL))
		return b.post(s.URL+"/login/passkey", form)
	}
	if r := signIn(); r.status != http.StatusSeeOther { // 11
		t.Fatalf("counter up: %d", r.status)
	}
	k.count = 9 // a copy of the key, used less: it says 10
	if r := signIn(); r.status != http.StatusOK || !strings.Contains(r.body, "signature counter went backwards") {
		t.Fatalf("counter back: %d\n%.1000s", r.status, r.body)
	}
	k.count = 10 // says 11 again: equal is a clone too
	if r := signIn(); r.status != http.StatusOK || !strings.Contains(r.body, "signature counter went backwards") {
		t.Fatalf("counter equal: %d\n%.1000s", r.status, r.body)
	}
	if got := passkeyFactors(t, s.azSetup); got[0].Counter != 11 {
		t.Fatalf("stored counter %d, want 11 kept", got[0].Counter)
	}
	wantAudit(t, s, audit.SigninFailure, audit.ReasonClonedAuthenticator, 2)
	if r := signIn(); r.status != http.StatusSeeOther { // 12: the real key goes on
		t.Fatalf("counter up again: %d", r.status)
	}

	// An authenticator without a counter.
	s2 := newPasskeyAZ(t)
	zero := newSoftKey(t)
	enrolPasskey(t, s2.azSetup, s2.browser(t), zero, "no counter")
	for i := range 2 {
		b := s2.browser(t)
		form, o := passwordless(t, s2.azSetup, b)
		form.Set("credential", zeroCounter(t, zero, o, s2.URL))
		if r := b.post(s2.URL+"/login/passkey", form); r.status != http.StatusSeeOther {
			t.Fatalf("counterless sign-in %d: %d\n%.1000s", i, r.status, r.body)
		}
	}
}

// zeroCounter is an assertion whose counter is 0.
func zeroCounter(t *testing.T, k *softKey, o options, origin string) string {
	t.Helper()
	k.count = ^uint32(0) // get adds one: wraps to 0
	return k.get(t, o, origin)
}

// TestPasskeyNeedsUserVerification: passwordless, a passkey that did not
// verify its user is one factor: refused.
func TestPasskeyNeedsUserVerification(t *testing.T) {
	s := newPasskeyAZ(t)
	k := newSoftKey(t)
	enrolPasskey(t, s.azSetup, s.browser(t), k, "key")
	k.uv = false
	b := s.browser(t)
	form, o := passwordless(t, s.azSetup, b)
	form.Set("credential", k.get(t, o, s.URL))
	if r := b.post(s.URL+"/login/passkey", form); r.status != http.StatusOK || b.cookieOf("latchkey_session") != nil || !strings.Contains(r.body, "id=\"error\"") {
		t.Fatalf("passwordless without UV: %d\n%.1000s", r.status, r.body)
	}
}

// TestPasskeyStepUp: a session with the password and an app's code is
// multi-factor, not phishing-resistant: acr_values asking for it gets
// the passkey-only second step (prompt=none: interaction_required), and
// the passkey then reaches it. The metadata offers it.
func TestPasskeyStepUp(t *testing.T) {
	s := newPasskeyAZ(t)
	b := s.browser(t)
	secret, _ := enrolOnAccount(t, s.azSetup, b)
	k := newSoftKey(t)
	tok := accountTokens(t, accountPage(t, s.azSetup, b).body)["/account/passkeys"]
	o := parseOptions(t, b.begin("/account/passkeys/begin", tok).body)
	if r := b.post(s.URL+"/account/passkeys", url.Values{"csrf": {tok}, "credential": {k.create(t, o, s.URL)}}); r.status != http.StatusSeeOther {
		t.Fatalf("passkey beside the app: %d\n%.1000s", r.status, r.body)
	}
	s.Clock.Advance(60e9)
	b2 := s.browser(t)
	params, _ := azParams("web")
	page := loginToMFA(t, b2, params)
	if !strings.Contains(page.body, `id="mfa-passkey-form"`) {
		t.Fatal("the second step offers no passkey beside the app")
	}
	r := submitCode(b2, page, totpCode(t, secret, s.Clock.Now()))
	finish(t, b2, r)
	if sess := newestSession(t, s.azSetup); sess.ACR != acrMFA {
		t.Fatalf("password and code: acr %q", sess.ACR)
	}
	none, _ := azParamsWith("web", "acr_values", acrPhishing, "prompt", "none")
	if q := b2.authorize(none).callback(t, azCB); q.Get("error") != "interaction_required" {
		t.Fatalf("prompt=none: %v", q)
	}
	up, verifier := azParamsWith("web", "acr_values", acrPhishing)
	step := b2.authorize(up)
	if step.status != http.StatusOK || !strings.Contains(step.body, `id="mfa-passkey-form"`) ||
		strings.Contains(step.body, `id="totp-form"`) || strings.Contains(step.body, `id="recovery-form"`) {
		t.Fatalf("step-up to phishing_resistant: %d\n%.2000s", step.status, step.body)
	}
	f := hidden(step.body)
	o = parseOptions(t, b2.begin("/login/mfa/passkey/begin", f.Get("csrf")).body)
	f.Set("credential", k.get(t, o, s.URL))
	claims, _ := idClaims(t, s.azSetup, finish(t, b2, b2.post(s.URL+"/login/mfa/passkey", f)).Get("code"), verifier)
	if claims["acr"] != acrPhishing || !slices.Contains(amrOf(claims), "hwk") {
		t.Fatalf("after the step-up: amr %v acr %v", claims["amr"], claims["acr"])
	}
	resp, err := http.Get(s.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct {
		ACR []string `json:"acr_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil || !slices.Equal(meta.ACR, []string{acrPwd, acrMFA, acrPhishing}) {
		t.Fatalf("acr_values_supported %v (%v)", meta.ACR, err)
	}
}

// TestPasskeyUnavailableWithoutOne: a user with no passkey asked for
// phishing_resistant is told so, with the way back to the client.
func TestPasskeyUnavailableWithoutOne(t *testing.T) {
	s := newPasskeyAZ(t)
	b := s.browser(t)
	params, _ := azParamsWith("web", "acr_values", acrPhishing)
	r := b.login(b.authorize(params), azUser, azPassword)
	for r.status == http.StatusSeeOther {
		r = b.follow(r)
	}
	if !strings.Contains(r.body, `id="unavailable"`) || !strings.Contains(r.body, "access_denied") {
		t.Fatalf("no passkey, phishing_resistant: %d\n%.2000s", r.status, r.body)
	}
}

// TestPasskeyEndpointsRefuse: the begin endpoints answer JSON errors (no
// CSRF token, a wrong one, no session, GET), the finish forms the
// expired-form page without their token (A7); nothing is stored. The
// pages' headers: no framing (S136), script from this origin only and
// only on the pages with passkey buttons (S137).
func TestPasskeyEndpointsRefuse(t *testing.T) {
	s := newPasskeyAZ(t)
	b := s.browser(t)
	b.get(s.URL + "/account")
	for _, path := range []string{"/login/passkey/begin", "/login/mfa/passkey/begin", "/account/passkeys/begin"} {
		wantJSONError(t, b.begin(path, ""), http.StatusForbidden)
		wantJSONError(t, b.begin(path, "forged"), http.StatusForbidden)
		wantJSONError(t, b.get(s.URL+path), http.StatusMethodNotAllowed)
	}
	for _, path := range []string{"/login/passkey", "/login/mfa/passkey", "/account/passkeys", "/account/passkeys/remove"} {
		r := b.post(s.URL+path, url.Values{"csrf": {"forged"}, "credential": {"{}"}})
		if path == "/account/passkeys" || path == "/account/passkeys/remove" { // signed out: back to sign in
			if r.status != http.StatusSeeOther {
				t.Errorf("%s signed out: %d", path, r.status)
			}
			continue
		}
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
			t.Errorf("%s with a forged token: %d\n%.500s", path, r.status, r.body)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
			if got := r.header.Get(k); got != want {
				t.Errorf("%s %s = %q", path, k, got)
			}
		}
	}
	// Signed in, the account's forms need their own tokens.
	accountBrowser(t, s.azSetup, b)
	wantJSONError(t, b.begin("/account/passkeys/begin", "forged"), http.StatusForbidden)
	if r := b.post(s.URL+"/account/passkeys", url.Values{"csrf": {"forged"}}); r.status != http.StatusForbidden {
		t.Errorf("enrolment with a forged token: %d", r.status)
	}
	if len(passkeyFactors(t, s.azSetup)) != 0 {
		t.Fatal("a refused request stored a passkey")
	}
	// The login page without JavaScript: the password form first, the
	// passkey form hidden until the script shows it; CSP allows the
	// server's script only.
	page := s.browser(t).authorize(func() url.Values { p, _ := azParams("web"); return p }())
	if !page.isLogin() || !strings.Contains(page.body, `id="passkey-form" class="passkey" data-passkey="login" data-conditional="username"`) ||
		!strings.Contains(page.body, `autocomplete="username webauthn"`) || strings.Contains(page.body, "<script>") {
		t.Fatalf("login page:\n%.2500s", page.body)
	}
	if csp := page.header.Get("Content-Security-Policy"); csp != web.ScriptCSP || strings.Contains(csp, "unsafe") {
		t.Fatalf("login page CSP %q", csp)
	}
	js := s.browser(t).get(s.URL + "/assets/passkey.js")
	if js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.body, `mediation: "conditional"`) {
		t.Fatalf("passkey.js: %d %q", js.status, js.header.Get("Content-Type"))
	}
	// Pages without passkeys keep script-src 'none'.
	consentless := s.browser(t).get(s.URL + "/logout")
	if csp := consentless.header.Get("Content-Security-Policy"); csp != web.CSP {
		t.Errorf("logout page CSP %q, want %q", csp, web.CSP)
	}
}

// TestPasskeyRemove: removal needs a multi-factor session and its own
// token; the last factor takes the recovery codes with it.
func TestPasskeyRemove(t *testing.T) {
	s := newPasskeyAZ(t)
	b := s.browser(t)
	k := newSoftKey(t)
	enrolPasskey(t, s.azSetup, b, k, "key")
	id := passkeyFactors(t, s.azSetup)[0].ID
	tokens := accountTokens(t, accountPage(t, s.azSetup, b).body)
	if r := b.post(s.URL+"/account/passkeys/remove", url.Values{"csrf": {tokens["/account/passkeys"]}, "id": {id}}); r.status != http.StatusForbidden {
		t.Fatalf("removal with the enrolment's token: %d", r.status)
	}
	r := b.post(s.URL+"/account/passkeys/remove", url.Values{"csrf": {tokens["/account/passkeys/remove"]}, "id": {id}})
	if r.status != http.StatusSeeOther || r.location() != s.URL+"/account?done=passkey_off" {
		t.Fatalf("remove: %d %q\n%.1000s", r.status, r.location(), r.body)
	}
	if len(passkeyFactors(t, s.azSetup)) != 0 {
		t.Fatal("the passkey is still stored")
	}
	if n, _ := s.Store.CountRecoveryCodes(context.Background(), s.user.ID); n != 0 {
		t.Fatalf("%d recovery codes outlived the last factor", n)
	}
	ev := wantAudit(t, s, audit.MFARemoved, "", 1)
	if ev[0].Details["kind"] != store.FactorWebAuthn || ev[0].Details["id"] != id || ev[0].Details["name"] != "key" {
		t.Fatalf("removal audit %+v", ev[0])
	}
}

// TestPasskeyAcrossInstances: two instances on one PostgreSQL. The
// ceremony begun on A finishes on B (the cookie is MACed with the shared
// secret); the same assertion replayed on A is refused (its use is in
// the shared replay store).
func TestPasskeyAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := testenv.New(t, testenv.Options{Localhost: true, Store: openPostgres(t, dsn)})
	bEnv := testenv.New(t, testenv.Options{Localhost: true, Store: openPostgres(t, dsn), Configure: func(c *server.Config) { c.Issuer = a.URL }})
	sa := &azSetup{Env: a}
	sa.secret = sa.AddClient(t, azWebClient("web"))
	sa.user = a.AddUser(t, azUser, azPassword, nil)
	k := newSoftKey(t)
	enrolPasskey(t, sa, sa.browser(t), k, "key")

	br := sa.browser(t) // one cookie jar: cookies ignore the port, so A's reach B
	form, o := passwordless(t, sa, br)
	form.Set("credential", k.get(t, o, a.URL)) // the issuer's origin, whichever instance answers
	ceremony := br.cookieOf("latchkey_passkey")
	if r := br.post(bEnv.URL+"/login/passkey", form); r.status != http.StatusSeeOther {
		t.Fatalf("finish on B: %d\n%.1000s", r.status, r.body)
	}
	u, _ := url.Parse(a.URL)
	br.c.Jar.SetCookies(u, []*http.Cookie{ceremony})
	if r := br.post(a.URL+"/login/passkey", form); r.status != http.StatusOK || !strings.Contains(r.body, "expired or was used already") {
		t.Fatalf("replay on A: %d\n%.1000s", r.status, r.body)
	}
}
