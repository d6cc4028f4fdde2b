package server_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/token"
)

// azFuzzRedirects are the redirect URIs the fuzzed clients registered; a
// loopback one may come back with any port (RFC 8252 §7.3).
var (
	azFuzzRedirects = []string{azCB, "https://app.example/cb?keep=1", "com.example.app:/cb"}
	azFuzzLoopback  = regexp.MustCompile(`^http://127\.0\.0\.1(:[0-9]*)?/cb$`)
)

// FuzzAuthorizeRequest sends arbitrary authorization requests (GET query
// or POST body, with or without a signed-in, consenting user) to the real
// handler. Whatever comes in, the answer is a 200 page, a 400 page without
// Location, or a 303 to a registered redirect URI carrying iss and a code
// or an error — never a panic, a 500 or an open redirect (S012, S049,
// S050, A4, A5, A15).
func FuzzAuthorizeRequest(f *testing.F) {
	env := testenv.New(f, testenv.Options{})
	env.AddClient(f, store.Client{ID: "web", GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid", "profile", "read"}, RedirectURIs: azFuzzRedirects})
	env.AddClient(f, store.Client{ID: "native", Public: true, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid"}, RedirectURIs: []string{"http://127.0.0.1/cb"}})
	user := env.AddUser(f, azUser, azPassword, nil)
	cookie := azFuzzSession(f, env, user)
	handler := env.Server.Config.Handler

	f.Add("response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid&state=s"+
		"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256", false, true)
	f.Add("response_type=code&client_id=native&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcb&scope=openid"+
		"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&prompt=none", true, false)
	f.Fuzz(func(t *testing.T, query string, post, signedIn bool) {
		var req *http.Request
		if post {
			req = httptest.NewRequest(http.MethodPost, "/authorize", strings.NewReader(query))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(http.MethodGet, "/authorize", nil)
			req.URL.RawQuery = query
		}
		if signedIn {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		loc := rec.Header().Get("Location")
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest:
			if loc != "" {
				t.Fatalf("%d with Location %q", rec.Code, loc)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("%d with Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
		case http.StatusSeeOther:
			azFuzzCheckRedirect(t, env.URL, loc)
		default:
			t.Fatalf("status %d for %q\n%s", rec.Code, query, rec.Body)
		}
	})
}

// azFuzzCheckRedirect checks that loc is a registered redirect URI plus
// the response parameters, and nothing else.
func azFuzzCheckRedirect(t *testing.T, issuer, loc string) {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("unparsable Location %q", loc)
	}
	q := u.Query()
	if q.Get("iss") != issuer || (q.Get("code") == "") == (q.Get("error") == "") {
		t.Fatalf("Location %q lacks iss, or carries both or neither of code and error", loc)
	}
	for _, k := range []string{"code", "error", "error_description", "state", "iss"} {
		q.Del(k)
	}
	base := u.Scheme + ":"
	if u.Host != "" || strings.HasPrefix(loc, u.Scheme+"://") {
		base += "//" + u.Host
	}
	base += u.Path
	if len(q) > 0 {
		base += "?" + q.Encode()
	}
	for _, r := range azFuzzRedirects {
		if base == r {
			return
		}
	}
	if azFuzzLoopback.MatchString(base) {
		return
	}
	t.Fatalf("redirected to %q: base %q is not registered", loc, base)
}

// azFuzzSession signs alice in through the store and records her consent
// to every scope of "web", so that fuzzed requests can reach code issuance.
func azFuzzSession(f *testing.F, env *testenv.Env, user store.User) *http.Cookie {
	ctx := context.Background()
	value, digest, err := token.New(token.PrefixSession, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	now := env.Clock.Now()
	err = env.Store.CreateSession(ctx, store.Session{Digest: digest, UserID: user.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
	if err == nil {
		err = env.Store.SaveConsent(ctx, store.Consent{UserID: user.ID, ClientID: "web", Scopes: []string{"openid", "profile", "read"}, GrantedAt: now})
	}
	if err != nil {
		f.Fatal(err)
	}
	return &http.Cookie{Name: "latchkey_session", Value: value}
}
