package server_test

// Strong sign-in over HTTP: TOTP (RFC 6238) enrolment on the account page,
// sign-in with the second page, codes used once (the stored step), the
// ±1 step window, recovery codes, guessing limits shared with the
// password's (S025), step-up by acr_values, prompt=none, the policies of
// clients and users, amr and acr in ID tokens and introspection, and the
// password grant refused to users with a second factor (S026).

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

const (
	acrMFA = "urn:latchkey:acr:mfa"
	acrPwd = "urn:latchkey:acr:pwd"
)

// totpCode is the code of secret at t, from the library's generator.
func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	hiddenField  = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	secretText   = regexp.MustCompile(`<p class="code" id="totp-secret">([A-Z2-7]+)</p>`)
	recoveryItem = regexp.MustCompile(`<li class="recovery-code">([a-z0-9-]+)</li>`)
)

// hidden returns the first value of every hidden field of body.
func hidden(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(body, -1) {
		if !v.Has(m[1]) {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return v
}

// isMFA tells the code page of a second step.
func (r azResp) isMFA() bool {
	return r.status == http.StatusOK && strings.Contains(r.body, `id="totp-form"`)
}

// enrolOnAccount signs b in on /account and sets up a TOTP factor there;
// it returns the secret and the recovery codes, each shown once.
func enrolOnAccount(t *testing.T, s *azSetup, b *azBrowser) (string, []string) {
	t.Helper()
	page := accountBrowser(t, s, b)
	if !strings.Contains(page.body, `id="mfa-off"`) {
		t.Fatalf("account page of a user without a factor:\n%.2000s", page.body)
	}
	tokens := accountTokens(t, page.body)
	r := b.post(s.URL+"/account/mfa/enrol", url.Values{"csrf": {tokens["/account/mfa/enrol"]}})
	secret, f := enrolPage(t, r)
	f.Set("code", totpCode(t, secret, s.Clock.Now()))
	r = b.post(s.URL+"/account/mfa/confirm", f)
	codes := recoveryItem.FindAllStringSubmatch(r.body, -1)
	if r.status != http.StatusOK || len(codes) != 10 {
		t.Fatalf("confirm: %d with %d recovery codes\n%.2000s", r.status, len(codes), r.body)
	}
	var out []string
	for _, c := range codes {
		out = append(out, c[1])
	}
	return secret, out
}

// enrolPage checks an enrolment page and returns its secret and form.
func enrolPage(t *testing.T, r azResp) (string, url.Values) {
	t.Helper()
	m := secretText.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil || !strings.Contains(r.body, "<svg") {
		t.Fatalf("enrolment page: %d\n%.2000s", r.status, r.body)
	}
	f := hidden(r.body)
	if f.Get("factor_id") == "" || f.Get("csrf") == "" {
		t.Fatalf("enrolment form without factor_id or csrf:\n%.2000s", r.body)
	}
	return m[1], f
}

// loginToMFA runs /authorize with params and the password, and returns the
// second page.
func loginToMFA(t *testing.T, b *azBrowser, params url.Values) azResp {
	t.Helper()
	r := b.login(b.authorize(params), azUser, azPassword)
	if !r.isMFA() {
		t.Fatalf("after the password: %d, want the code page\n%.2000s", r.status, r.body)
	}
	return r
}

// submitCode posts a TOTP code on the code page.
func submitCode(b *azBrowser, page azResp, code string) azResp {
	f := hidden(page.body)
	f.Set("code", code)
	return b.post(b.env.URL+"/login/mfa", f)
}

// finish follows the flow after a second step to the client: the resumed
// /authorize, and the consent page when it comes.
func finish(t *testing.T, b *azBrowser, r azResp) url.Values {
	t.Helper()
	r = b.follow(r)
	if r.isConsent() {
		r = b.consent(r, "allow")
	}
	return r.callback(t, azCB)
}

// idClaims redeems code and returns the ID token's claims and the tokens.
func idClaims(t *testing.T, s *azSetup, code, verifier string) (map[string]any, azTokenJSON) {
	t.Helper()
	r, tok := azRedeem(t, s.Env, "web", s.secret, code, verifier)
	if r.status != http.StatusOK || tok.IDToken == "" {
		t.Fatalf("redeem: %d %s", r.status, r.body)
	}
	_, claims := azJWT(t, tok.IDToken)
	return claims, tok
}

func amrOf(claims map[string]any) []string {
	var out []string
	list, _ := claims["amr"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

func TestTOTPSignIn_RFC6238(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	secret, _ := enrolOnAccount(t, s, s.browser(t))

	// A fresh browser: password, then the code page.
	b := s.browser(t)
	params, verifier := azParams("web")
	page := loginToMFA(t, b, params)
	if sessions, _ := s.Store.ListSessions(context.Background(), s.user.ID, s.Clock.Now()); len(sessions) != 1 {
		t.Fatalf("the password alone started a session: %d sessions (the account page's is the one)", len(sessions))
	}
	// The code the enrolment used, in the same step: refused (used once).
	enrolled := totpCode(t, secret, s.Clock.Now())
	r := submitCode(b, page, enrolled)
	if !r.isMFA() || !strings.Contains(r.body, `id="error"`) {
		t.Fatalf("the enrolment's code again: %d, want the code page with an error\n%.1500s", r.status, r.body)
	}
	// A code from two steps ago: outside the ±1 window.
	if r = submitCode(b, r, totpCode(t, secret, s.Clock.Now().Add(-60*time.Second))); !r.isMFA() {
		t.Fatalf("a code two steps old: %d, want refused", r.status)
	}
	// The next step's code (one step ahead is within the window).
	next := totpCode(t, secret, s.Clock.Now().Add(30*time.Second))
	r = submitCode(b, r, next)
	q := finish(t, b, r)
	claims, tok := idClaims(t, s, q.Get("code"), verifier)
	if amr := amrOf(claims); !slices.Contains(amr, "pwd") || !slices.Contains(amr, "otp") || !slices.Contains(amr, "mfa") {
		t.Errorf("ID token amr = %v, want pwd, otp, mfa", amr)
	}
	if claims["acr"] != acrMFA {
		t.Errorf("ID token acr = %v, want %s", claims["acr"], acrMFA)
	}
	// The access token and introspection say the same.
	_, at := azJWT(t, tok.AccessToken)
	if at["acr"] != acrMFA {
		t.Errorf("access token acr = %v", at["acr"])
	}
	// A resource server reads them with the bearer package.
	v, err := bearer.New(context.Background(), bearer.Config{Issuer: s.URL, Audience: s.URL, Now: s.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	bc, err := v.Validate(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("bearer.Validate: %v", err)
	}
	if bc.ACR() != acrMFA || !slices.Contains(bc.AMR(), "otp") {
		t.Errorf("bearer claims: acr %q amr %v", bc.ACR(), bc.AMR())
	}
	intro := mfaIntrospect(t, s, tok.RefreshToken)
	if intro.ACR != acrMFA || !slices.Contains(intro.AMR, "otp") {
		t.Errorf("introspection of the refresh token: acr %q amr %v", intro.ACR, intro.AMR)
	}
	// The same code once more, in another browser: refused.
	b2 := s.browser(t)
	page2 := loginToMFA(t, b2, azReq("web"))
	if r := submitCode(b2, page2, next); !r.isMFA() {
		t.Fatalf("a used code in another browser: %d, want refused", r.status)
	}
}

// introspection is the part of /introspect's answer these tests read.
type mfaIntrospection struct {
	Active bool     `json:"active"`
	AMR    []string `json:"amr"`
	ACR    string   `json:"acr"`
}

func mfaIntrospect(t *testing.T, s *azSetup, tok string) mfaIntrospection {
	t.Helper()
	resp, err := http.PostForm(s.URL+"/introspect", url.Values{"client_id": {"web"}, "client_secret": {s.secret}, "token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got mfaIntrospection
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || !got.Active {
		t.Fatalf("introspect: %d %v %+v", resp.StatusCode, err, got)
	}
	return got
}

// TestTOTPGuessingLimits_S025: wrong codes count under the password's
// counters, so the limit is one for both; once reached even the right
// code is refused without being checked, as a right password is.
func TestTOTPGuessingLimits_S025(t *testing.T) {
	a := newAuditAZ(t, func(c *server.Config) { c.Limits.PerUsername = 3 })
	s := a.azSetup
	secret, codes := enrolOnAccount(t, s, s.browser(t))
	a.keep(append(codes, secret)...)
	s.Clock.Advance(30 * time.Second)
	b := s.browser(t)
	page := loginToMFA(t, b, azReq("web"))
	for range 3 {
		page = submitCode(b, page, "000000")
		if !page.isMFA() {
			t.Fatalf("wrong code: %d", page.status)
		}
	}
	r := submitCode(b, page, totpCode(t, secret, s.Clock.Now()))
	if !r.isMFA() || !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("the right code past the limit: %d\n%.1500s", r.status, r.body)
	}
	// The password is limited by the same counter.
	b3 := s.browser(t)
	r = b3.login(b3.authorize(azReq("web")), azUser, azPassword)
	if !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("the password after code guesses: %d\n%.1500s", r.status, r.body)
	}
	failures := a.waitEvents(t, audit.MFAFailure, 4)
	if failures[0].Reason != audit.ReasonWrongCode || failures[3].Reason != audit.ReasonLimited || failures[0].UserID != s.user.ID {
		t.Errorf("mfa.failure events: %+v", failures)
	}
	a.waitEvents(t, audit.MFAEnrolled, 1)
	a.noSecrets(t)
}

func TestRecoveryCodeSignIn(t *testing.T) {
	a := newAuditAZ(t, nil)
	s := a.azSetup
	secret, codes := enrolOnAccount(t, s, s.browser(t))
	a.keep(append(slices.Clone(codes), secret)...)
	b := s.browser(t)
	page := loginToMFA(t, b, azReq("web"))
	f := hidden(page.body)
	f.Set("recovery_code", strings.ToUpper(codes[3])) // typed in capitals: still the code
	r := b.post(s.URL+"/login/mfa", f)
	if r.status != http.StatusOK || !strings.Contains(r.body, `id="recovered"`) || !strings.Contains(r.body, `id="codes-left">9<`) {
		t.Fatalf("recovery code: %d\n%.1500s", r.status, r.body)
	}
	// The prompt leads to the account page to enrol again, or on.
	if !strings.Contains(r.body, `href="`+s.URL+`/account"`) {
		t.Errorf("no way to the account page on the prompt")
	}
	if used := a.waitEvents(t, audit.RecoveryCodeUsed, 1); used[0].Details["left"] != "9" || used[0].UserID != s.user.ID {
		t.Errorf("recovery_code_used events: %+v", used)
	}
	// The same code again: refused.
	b2 := s.browser(t)
	f = hidden(loginToMFA(t, b2, azReq("web")).body)
	f.Set("recovery_code", codes[3])
	if r := b2.post(s.URL+"/login/mfa", f); !r.isMFA() || !strings.Contains(r.body, `id="error"`) {
		t.Fatalf("a used recovery code: %d\n%.1500s", r.status, r.body)
	}
	a.waitEvents(t, audit.RecoveryCodesIssued, 1)
	a.noSecrets(t)
}

// TestStepUpByACRValues: a session signed in with a password only meets
// acr_values=urn:latchkey:acr:mfa by a second step, and the new ID token
// says so; prompt=none with the weaker session is interaction_required.
func TestStepUpByACRValues(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	// Signed in with the password before any factor existed.
	code := b.code(azReq("web"))
	if code == "" {
		t.Fatal("no code")
	}
	// Enrol through the store as another device would have (the account
	// page would renew this browser's session).
	secret := enrolDirect(t, s, s.user)

	params, verifier := azParamsWith("web", "acr_values", acrMFA)
	none, _ := azParamsWith("web", "acr_values", acrMFA, "prompt", "none")
	q := b.authorize(none).callback(t, azCB)
	if q.Get("error") != "interaction_required" {
		t.Fatalf("prompt=none with a password session: %v", q)
	}
	page := b.authorize(params)
	if !page.isMFA() {
		t.Fatalf("acr_values=mfa with a password session: %d, want the code page\n%.1500s", page.status, page.body)
	}
	r := submitCode(b, page, totpCode(t, secret, s.Clock.Now().Add(30*time.Second)))
	q = finish(t, b, r)
	claims, _ := idClaims(t, s, q.Get("code"), verifier)
	if !slices.Contains(amrOf(claims), "otp") || claims["acr"] != acrMFA {
		t.Fatalf("after step-up: amr %v acr %v", claims["amr"], claims["acr"])
	}
	// Now the session meets it, prompt=none included.
	if q := b.authorize(none).callback(t, azCB); q.Get("code") == "" {
		t.Fatalf("prompt=none after step-up: %v", q)
	}
}

// enrolDirect gives user a confirmed TOTP factor through the server's own
// enrolment (a second browser on the account page) and returns its secret.
func enrolDirect(t *testing.T, s *azSetup, user store.User) string {
	t.Helper()
	secret, _ := enrolOnAccount(t, s, s.browser(t))
	s.Clock.Advance(30 * time.Second) // the enrolment's step is used
	return secret
}

func TestPasswordSessionACR(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	params, verifier := azParams("web")
	claims, _ := idClaims(t, s, s.browser(t).code(params), verifier)
	if amr := amrOf(claims); !slices.Equal(amr, []string{"pwd"}) || claims["acr"] != acrPwd {
		t.Fatalf("password sign-in: amr %v acr %v", claims["amr"], claims["acr"])
	}
}

// TestPhishingResistantUnavailable: at an issuer on an IP address (no
// WebAuthn relying party, so no passkeys) nothing reaches it, so the
// page says so and the way back is access_denied; prompt=none is
// interaction_required; the metadata does not offer it. (With passkeys:
// passkey_test.go.)
func TestPhishingResistantUnavailable(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	params, _ := azParamsWith("web", "acr_values", "urn:latchkey:acr:phishing_resistant")
	r := b.authorize(params)
	if r.status != http.StatusOK || !strings.Contains(r.body, `id="unavailable"`) {
		t.Fatalf("phishing_resistant: %d\n%.1500s", r.status, r.body)
	}
	m := regexp.MustCompile(`id="back" href="([^"]+)"`).FindStringSubmatch(r.body)
	back, _ := url.Parse(html.UnescapeString(m[1]))
	if back.Query().Get("error") != "access_denied" || back.Query().Get("state") != params.Get("state") || !strings.HasPrefix(m[1], azCB) {
		t.Errorf("way back: %s", m[1])
	}
	none, _ := azParamsWith("web", "acr_values", "urn:latchkey:acr:phishing_resistant", "prompt", "none")
	if q := b.authorize(none).callback(t, azCB); q.Get("error") != "interaction_required" {
		t.Errorf("prompt=none: %v", q)
	}
	resp, err := http.Get(s.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct {
		ACR []string `json:"acr_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(meta.ACR, []string{acrPwd, acrMFA}) {
		t.Errorf("acr_values_supported = %v", meta.ACR)
	}
}

// TestMFARequiredEnrolsAtSignIn: a client with require_mfa and a user
// with none enrols at sign-in: the QR page, a first code, the recovery
// codes, then the flow goes on with amr otp.
func TestMFARequiredEnrolsAtSignIn(t *testing.T) {
	a := newAuditAZ(t, nil)
	s := a.azSetup
	c := azWebClient("strict")
	c.RequireMFA = true
	secretOf := s.AddClient(t, c)
	b := s.browser(t)
	params, verifier := azParams("strict")
	r := b.login(b.authorize(params), azUser, azPassword)
	secret, f := enrolPage(t, r)
	f.Set("code", "123456")
	if r := b.post(s.URL+"/login/enrol", f); r.status != http.StatusOK || !strings.Contains(r.body, `id="error"`) {
		t.Fatalf("a wrong first code: %d\n%.1500s", r.status, r.body)
	}
	// The refusal showed a new secret: the first is gone.
	r = b.post(s.URL+"/login/enrol", f)
	secret, f = enrolPage(t, r)
	f.Set("code", totpCode(t, secret, s.Clock.Now()))
	r = b.post(s.URL+"/login/enrol", f)
	if r.status != http.StatusOK || len(recoveryItem.FindAllString(r.body, -1)) != 10 {
		t.Fatalf("enrolment at sign-in: %d\n%.1500s", r.status, r.body)
	}
	cont := regexp.MustCompile(`id="continue" href="([^"]+)"`).FindStringSubmatch(r.body)
	r = b.get(html.UnescapeString(cont[1]))
	if r.isConsent() {
		r = b.consent(r, "allow")
	}
	q := r.callback(t, azCB)
	rr, tok := azRedeem(t, s.Env, "strict", secretOf, q.Get("code"), verifier)
	if rr.status != http.StatusOK {
		t.Fatalf("redeem: %s", rr.body)
	}
	_, claims := azJWT(t, tok.IDToken)
	if claims["acr"] != acrMFA {
		t.Errorf("acr = %v", claims["acr"])
	}
	if enrolled := a.waitEvents(t, audit.MFAEnrolled, 1); enrolled[0].Details["via"] != "signin" {
		t.Errorf("mfa.enrolled events: %+v", enrolled)
	}
}

// TestPasswordGrantRefusedForMFAUsers_S026: the password grant cannot ask
// for a second factor, so a user who has one is refused, unless the
// client is allowed (password_grant_mfa).
func TestPasswordGrantRefusedForMFAUsers_S026(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	ropc := store.Client{ID: "legacy", Name: "Legacy", GrantTypes: []string{"password"}, Scopes: []string{"openid", "read"}}
	legacySecret := s.AddClient(t, ropc)
	allowed := ropc
	allowed.ID, allowed.PasswordGrantMFA = "legacy-allowed", true
	allowedSecret := s.AddClient(t, allowed)
	grant := url.Values{"grant_type": {"password"}, "username": {azUser}, "password": {azPassword}, "scope": {"read"}}
	if r, _ := azPostToken(t, s.Env, "legacy", legacySecret, grant); r.status != http.StatusOK {
		t.Fatalf("before enrolment: %d %s", r.status, r.body)
	}
	enrolOnAccount(t, s, s.browser(t))
	r, tok := azPostToken(t, s.Env, "legacy", legacySecret, grant)
	azWantTokenError(t, r, tok, http.StatusBadRequest, "invalid_grant")
	if !strings.Contains(r.body, "second factor") {
		t.Errorf("description does not say why: %s", r.body)
	}
	if r, _ := azPostToken(t, s.Env, "legacy-allowed", allowedSecret, grant); r.status != http.StatusOK {
		t.Fatalf("an allowed client: %d %s", r.status, r.body)
	}
}

// TestMFAPagesHeadersAndCSRF_S136_A7: the second pages carry the login
// page's headers, and their forms need the token bound to this browser's
// pending sign-in.
func TestMFAPagesHeadersAndCSRF_S136_A7(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	secret, _ := enrolOnAccount(t, s, s.browser(t))
	s.Clock.Advance(30 * time.Second)
	b := s.browser(t)
	page := loginToMFA(t, b, azReq("web"))
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store",
		"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
		if got := page.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	other := s.browser(t)
	otherPage := loginToMFA(t, other, azReq("web"))
	code := totpCode(t, secret, s.Clock.Now())
	for name, csrf := range map[string]string{"none": "", "another browser's": hidden(otherPage.body).Get("csrf"),
		"wrong": "AAAA" + hidden(page.body).Get("csrf")[4:]} {
		f := hidden(page.body)
		f.Set("csrf", csrf)
		f.Set("code", code)
		if r := b.post(s.URL+"/login/mfa", f); r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
			t.Errorf("%s token: %d", name, r.status)
		}
	}
	// A next outside this server's flows is refused too.
	f := hidden(page.body)
	f.Set("next", "//evil.example/")
	f.Set("code", code)
	if r := b.post(s.URL+"/login/mfa", f); r.status != http.StatusForbidden {
		t.Errorf("foreign next: %d", r.status)
	}
	// Nothing was used: the code still signs in.
	if r := submitCode(b, page, code); r.status != http.StatusSeeOther {
		t.Fatalf("the right code after the refused forms: %d\n%.1500s", r.status, r.body)
	}
	if r := b.get(s.URL + "/login/mfa"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /login/mfa: %d", r.status)
	}
}

// TestUserMFARequiredStepsUp: a user made mfa_required while signed in
// with a password: prompt=none is interaction_required, and the next
// authorization enrols a factor (they have none) before the code.
func TestUserMFARequiredStepsUp(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	b.code(azReq("web")) // a password session, and a consent
	u, err := s.Store.GetUser(context.Background(), s.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	u.MFARequired = true
	if err := s.Store.(store.AdminStore).ReplaceUser(context.Background(), u, func(store.User) bool { return true }); err != nil {
		t.Fatal(err)
	}
	none := azReq("web")
	none.Set("prompt", "none")
	if q := b.authorize(none).callback(t, azCB); q.Get("error") != "interaction_required" {
		t.Fatalf("prompt=none: %v", q)
	}
	params, verifier := azParams("web")
	secret, f := enrolPage(t, b.authorize(params))
	f.Set("code", totpCode(t, secret, s.Clock.Now()))
	r := b.post(s.URL+"/login/enrol", f)
	cont := regexp.MustCompile(`id="continue" href="([^"]+)"`).FindStringSubmatch(r.body)
	if cont == nil {
		t.Fatalf("enrolment: %d\n%.1500s", r.status, r.body)
	}
	q := b.get(html.UnescapeString(cont[1])).callback(t, azCB)
	claims, _ := idClaims(t, s, q.Get("code"), verifier)
	if claims["acr"] != acrMFA || !slices.Contains(amrOf(claims), "otp") {
		t.Fatalf("after enrolment: amr %v acr %v", claims["amr"], claims["acr"])
	}
}

// TestDeviceFlowRequireMFA: a device client with require_mfa and a user
// without a factor: the verification page's sign-in enrols one, comes
// back through the code form, and the device's ID token says otp and mfa.
func TestDeviceFlowRequireMFA(t *testing.T) {
	s := newDV(t, nil)
	tv := dvTV()
	tv.ID, tv.RequireMFA = "tv-mfa", true
	s.AddClient(t, tv)
	a := s.authorize(t, formOf("client_id", "tv-mfa", "scope", "openid read"))
	b := s.browser(t)
	p := b.enter(b.open(a.VerificationURI), a.UserCode)
	if !p.is("/device/login") {
		t.Fatalf("not the device login (%d):\n%.1500s", p.status, p.body)
	}
	p = b.submit(p, nil)
	m := secretText.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("device sign-in of a require_mfa client: %d, want the enrolment\n%.1500s", p.status, p.body)
	}
	f := hidden(p.body)
	f.Set("code", totpCode(t, m[1], s.Clock.Now()))
	p = b.send(http.MethodPost, s.URL+"/login/enrol", f)
	cont := regexp.MustCompile(`id="continue" href="([^"]+)"`).FindStringSubmatch(p.body)
	if cont == nil {
		t.Fatalf("enrolment: %d\n%.1500s", p.status, p.body)
	}
	p = b.open(html.UnescapeString(cont[1])) // the code form, the code filled in
	p = b.follow(b.enter(p, a.UserCode))
	if !p.is("/device/consent") {
		t.Fatalf("after enrolment: not the consent page (%d):\n%.1500s", p.status, p.body)
	}
	if done := b.decide(p, "approve"); done.status != http.StatusOK {
		t.Fatalf("approve: %d", done.status)
	}
	r := s.poll(t, "tv-mfa", a.DeviceCode)
	if r.Status != http.StatusOK {
		t.Fatalf("poll: %d %s", r.Status, r.Body)
	}
	idt, _ := r.JSON(t)["id_token"].(string)
	_, claims := azJWT(t, idt)
	if claims["acr"] != acrMFA || !slices.Contains(amrOf(claims), "otp") {
		t.Fatalf("device ID token: amr %v acr %v", claims["amr"], claims["acr"])
	}
}

// TestAccountMFACSRF_A7: the account page's two-step forms need the
// token bound to this session and to the form; a refused form changes
// nothing, and their pages carry the login page's headers.
func TestAccountMFACSRF_A7(t *testing.T) {
	s := newAZ(t, testenv.Options{})
	b := s.browser(t)
	tokens := accountTokens(t, accountBrowser(t, s, b).body)
	otherTokens := accountTokens(t, accountBrowser(t, s, s.browser(t)).body)
	for name, csrf := range map[string]string{"none": "", "another session's": otherTokens["/account/mfa/enrol"],
		"another form's": tokens["/account/password"]} {
		if r := b.post(s.URL+"/account/mfa/enrol", url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
			t.Errorf("enrol with %s token: %d", name, r.status)
		}
	}
	if fs, _ := s.Store.ListFactors(context.Background(), s.user.ID); len(fs) != 0 {
		t.Fatalf("a refused form stored a factor: %+v", fs)
	}
	r := b.post(s.URL+"/account/mfa/enrol", url.Values{"csrf": {tokens["/account/mfa/enrol"]}})
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("enrolment page: %s = %q, want %q", k, got, want)
		}
	}
	secret, f := enrolPage(t, r)
	// The enrol form's token does not confirm, nor does another session's.
	for name, csrf := range map[string]string{"the enrol form's": tokens["/account/mfa/enrol"], "none": ""} {
		g := url.Values{"factor_id": {f.Get("factor_id")}, "code": {totpCode(t, secret, s.Clock.Now())}, "csrf": {csrf}}
		if r := b.post(s.URL+"/account/mfa/confirm", g); r.status != http.StatusForbidden {
			t.Errorf("confirm with %s token: %d", name, r.status)
		}
	}
	if fs, _ := s.Store.ListFactors(context.Background(), s.user.ID); len(fs) != 1 || fs[0].Confirmed() {
		t.Fatalf("after refused confirmations: %+v", fs)
	}
	// Recovery codes without a factor: nothing to recover, nothing made.
	// The recovery form shares the enrol form's purpose (account-mfa); it shows only once a factor exists.
	if r := b.post(s.URL+"/account/mfa/recovery", url.Values{"csrf": {tokens["/account/mfa/enrol"]}}); r.status != http.StatusSeeOther {
		t.Errorf("recovery codes without a factor: %d", r.status)
	}
	if n, _ := s.Store.CountRecoveryCodes(context.Background(), s.user.ID); n != 0 {
		t.Errorf("%d recovery codes made for a user without a factor", n)
	}
	for _, p := range []string{"/account/mfa/enrol", "/account/mfa/confirm", "/account/mfa/recovery", "/account/mfa/off", "/login/enrol"} {
		if r := b.get(s.URL + p); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
			t.Errorf("GET %s: %d Allow %q", p, r.status, r.header.Get("Allow"))
		}
	}
}

// TestPasswordDoesNotResetCodeBudget_S025: for a user with a second factor
// the right password does not forget the failed codes, so whoever knows
// the password cannot sign in again and again to keep guessing codes.
func TestPasswordDoesNotResetCodeBudget_S025(t *testing.T) {
	s := newAZ(t, testenv.Options{Configure: func(c *server.Config) { c.Limits.PerUsername = 4 }})
	secret, _ := enrolOnAccount(t, s, s.browser(t))
	s.Clock.Advance(30 * time.Second)
	for round := range 2 {
		b := s.browser(t)
		page := loginToMFA(t, b, azReq("web"))
		for range 2 {
			if page = submitCode(b, page, "000000"); !page.isMFA() {
				t.Fatalf("round %d: a wrong code: %d", round, page.status)
			}
		}
	}
	// Four wrong codes over two password sign-ins: the limit holds.
	b := s.browser(t)
	r := b.login(b.authorize(azReq("web")), azUser, azPassword)
	if r.isMFA() {
		r = submitCode(b, r, totpCode(t, secret, s.Clock.Now()))
	}
	if !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("after four wrong codes in two sign-ins: %d\n%.1500s", r.status, r.body)
	}
}

// TestAccountMFAOff: turning two-step verification off takes a current
// code (a session alone cannot drop a factor) and the form's own token;
// a user whose policy requires it cannot.
func TestAccountMFAOff(t *testing.T) {
	a := newAuditAZ(t, nil)
	s := a.azSetup
	b := s.browser(t)
	secret, _ := enrolOnAccount(t, s, b)
	s.Clock.Advance(30 * time.Second)
	tokens := accountTokens(t, accountPage(t, s, b).body)
	off := tokens["/account/mfa/off"]
	if off == "" {
		t.Fatal("no turn-off form on the account page of a user with a factor")
	}
	code := totpCode(t, secret, s.Clock.Now())
	if r := b.post(s.URL+"/account/mfa/off", url.Values{"csrf": {tokens["/account/mfa/enrol"]}, "code": {code}}); r.status != http.StatusForbidden {
		t.Errorf("another form's token: %d", r.status)
	}
	if r := b.post(s.URL+"/account/mfa/off", url.Values{"csrf": {off}, "code": {"000000"}}); r.status != http.StatusOK || !strings.Contains(r.body, `id="error"`) {
		t.Errorf("a wrong code: %d", r.status)
	}
	if fs, _ := s.Store.ListFactors(context.Background(), s.user.ID); len(fs) != 1 {
		t.Fatalf("refused forms removed the factor: %+v", fs)
	}
	r := b.post(s.URL+"/account/mfa/off", url.Values{"csrf": {off}, "code": {code}})
	if r.status != http.StatusSeeOther || !strings.HasSuffix(r.location(), "/account?done=mfa_off") {
		t.Fatalf("the right code: %d to %q", r.status, r.location())
	}
	if fs, _ := s.Store.ListFactors(context.Background(), s.user.ID); len(fs) != 0 {
		t.Fatalf("factors after turning off: %+v", fs)
	}
	if removed := a.waitEvents(t, audit.MFARemoved, 1); removed[0].Details["via"] != "account" || removed[0].Actor != s.user.ID {
		t.Errorf("mfa.removed: %+v", removed[0])
	}
	// With mfa_required, the form is not there and the address refuses.
	secret, _ = enrolOnAccount(t, s, s.browser(t))
	u, _ := s.Store.GetUser(context.Background(), s.user.ID)
	u.MFARequired = true
	if err := s.Store.(store.AdminStore).ReplaceUser(context.Background(), u, func(store.User) bool { return true }); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(30 * time.Second)
	if page := accountPage(t, s, b); !strings.Contains(page.body, `id="mfa-required"`) || strings.Contains(page.body, `id="mfa-off-form"`) {
		t.Errorf("the account page of an mfa_required user offers to turn it off")
	}
	r = b.post(s.URL+"/account/mfa/off", url.Values{"csrf": {off}, "code": {totpCode(t, secret, s.Clock.Now())}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "cannot be turned off") {
		t.Fatalf("mfa_required user turning off: %d", r.status)
	}
	if fs, _ := s.Store.ListFactors(context.Background(), s.user.ID); len(fs) != 1 {
		t.Fatalf("an mfa_required user's factor was removed: %+v", fs)
	}
}
