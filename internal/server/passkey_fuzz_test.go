package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
)

// FuzzWebAuthnFinish drives the passkey endpoints over HTTP with
// arbitrary bodies: the credential JSON of the passwordless, second-factor
// and enrolment forms (each after a real begin, so the body reaches the
// parser and the verification), and raw bodies to the begin endpoints.
// Whatever comes in, the answer is a 4xx (JSON for the begin endpoints)
// or the form's page again, never a 5xx, and nothing is half written: no
// session is started, no passkey stored. The seeds are a real
// registration and assertion of a passkey held in the test and hostile
// variants (duplicate members, trailing data, deep nesting, wrong types).
func FuzzWebAuthnFinish(f *testing.F) {
	s := newAZ(f, testenv.Options{Localhost: true})
	k := newSoftKey(f)

	// A signed-in browser with one passkey enrolled.
	acct := s.browser(f)
	page := acct.get(s.URL + "/account")
	m := loginField.FindStringSubmatch(page.body)
	if m == nil {
		f.Fatalf("no sign-in form:\n%.1000s", page.body)
	}
	if r := acct.post(s.URL+"/account/login", url.Values{"csrf": {m[1]}, "username": {azUser}, "password": {azPassword}}); r.status != http.StatusSeeOther {
		f.Fatalf("sign in: %d", r.status)
	}
	enrolTok := ""
	for _, m := range csrfField.FindAllStringSubmatch(acct.get(s.URL+"/account").body, -1) {
		if m[1] == "/account/passkeys" {
			enrolTok = m[2]
		}
	}
	o := parseOptions(f, acct.begin("/account/passkeys/begin", enrolTok).body)
	created := k.create(f, o, s.URL)
	if r := acct.post(s.URL+"/account/passkeys", url.Values{"csrf": {enrolTok}, "name": {"key"}, "credential": {created}}); r.status != http.StatusOK {
		f.Fatalf("enrol: %d", r.status)
	}
	for _, m := range csrfField.FindAllStringSubmatch(acct.get(s.URL+"/account").body, -1) {
		if m[1] == "/account/passkeys" {
			enrolTok = m[2] // the enrolment renewed the session, and its tokens
		}
	}
	// A browser half way through a sign-in: the password was right.
	pend := s.browser(f)
	params, _ := azParams("web")
	mfa := pend.login(pend.authorize(params), azUser, azPassword)
	mfaForm := hidden(mfa.body)
	// A signed-out browser on the login page.
	anon := s.browser(f)
	plCSRF := passkeyLoginCSRF(f, anon.get(s.URL+"/account").body)
	sessions := func() int {
		all, err := s.Store.ListSessions(context.Background(), s.user.ID, s.Clock.Now())
		if err != nil {
			panic(err)
		}
		return len(all)
	}
	before := sessions()

	asserted := k.get(f, options{Challenge: "c2VlZA", RPID: "localhost"}, s.URL)
	for _, seed := range []string{
		asserted, created, "", "{}", "null", "[]", `"x"`, "{", `{"id":"a"}{}`, `{"id":"a","id":"b"}`,
		strings.Replace(asserted, `"type":"public-key"`, `"type":"public-key","type":"x"`, 1),
		strings.Replace(asserted, `"response":{`, `"response":{"clientDataJSON":"","`, 1),
		strings.Repeat("[", 50) + strings.Repeat("]", 50),
		`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`,
		`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"!!","attestationObject":"oA"}}`,
		`{"id":1,"rawId":[],"type":{},"response":"x"}`, "\xff\xfe", strings.Repeat("a", 40<<10),
	} {
		for kind := range uint8(4) {
			f.Add(kind, seed)
		}
	}

	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		var r azResp
		switch kind % 4 {
		case 0: // passwordless
			b := &azBrowser{t: t, env: s, c: anon.c}
			if st := b.begin("/login/passkey/begin", plCSRF).status; st != http.StatusOK {
				t.Fatalf("begin passwordless: %d", st)
			}
			r = b.post(s.URL+"/login/passkey", url.Values{"csrf": {plCSRF}, "credential": {body}})
		case 1: // the second step
			b := &azBrowser{t: t, env: s, c: pend.c}
			if st := b.begin("/login/mfa/passkey/begin", mfaForm.Get("csrf")).status; st != http.StatusOK {
				t.Fatalf("begin second step: %d", st)
			}
			form := url.Values{}
			for k, v := range mfaForm {
				form[k] = v
			}
			form.Set("credential", body)
			r = b.post(s.URL+"/login/mfa/passkey", form)
		case 2: // enrolment
			b := &azBrowser{t: t, env: s, c: acct.c}
			if st := b.begin("/account/passkeys/begin", enrolTok).status; st != http.StatusOK {
				t.Fatalf("begin enrolment: %d", st)
			}
			r = b.post(s.URL+"/account/passkeys", url.Values{"csrf": {enrolTok}, "name": {body}, "credential": {body}})
		case 3: // a raw body to a begin endpoint
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/login/passkey/begin", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r = (&azBrowser{t: t, env: s, c: anon.c}).do(req)
			if r.status != http.StatusOK && !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("begin refusal is not JSON: %d %s", r.status, r.header.Get("Content-Type"))
			}
		}
		if r.status >= 500 || r.status == http.StatusSeeOther {
			t.Fatalf("kind %d: status %d\n%.500s", kind%4, r.status, r.body)
		}
		if n := sessions(); n != before {
			t.Fatalf("kind %d: %d sessions, want %d", kind%4, n, before)
		}
		if got := len(passkeyFactors(t, s)); got != 1 {
			t.Fatalf("kind %d: %d passkeys stored, want 1", kind%4, got)
		}
	})
}
