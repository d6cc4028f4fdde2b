package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/loadgen"
)

const (
	userPassword = "correct horse battery staple"
	redirectURI  = "http://127.0.0.1:1/callback" // nothing listens: the walks stop at the redirect
)

// newUserFloor is a floor with the user grants on a fresh SQLite file.
func newUserFloor(t testing.TB) (*floor, *httptest.Server) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	f, err := newFloor(config{Issuer: "http://" + ts.Listener.Addr().String(), ClientID: "bench",
		ClientSecret: secret, Scopes: []string{"openid", "read", "write"},
		StorePath: filepath.Join(t.TempDir(), "floor.db"), Username: "alice", Password: userPassword,
		RedirectURI: redirectURI}, rand.Reader, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.u.close() })
	ts.Config.Handler = f.routes()
	ts.Start()
	t.Cleanup(ts.Close)
	return f, ts
}

// passwordTokens starts a refresh token family with the password grant.
func passwordTokens(t *testing.T, ts *httptest.Server, scope string) map[string]any {
	t.Helper()
	resp, body := post(t, ts, "/token", true, url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {userPassword}, "scope": {scope}})
	if resp.StatusCode != http.StatusOK || body["refresh_token"] == nil {
		t.Fatalf("password grant: %d %v", resp.StatusCode, body)
	}
	return body
}

func refreshWith(t *testing.T, ts *httptest.Server, token string) (*http.Response, map[string]any) {
	t.Helper()
	return post(t, ts, "/token", true, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
}

// idClaimsOf verifies an ID token with the floor's RS256 key.
func idClaimsOf(t *testing.T, f *floor, raw any) idClaims {
	t.Helper()
	s, _ := raw.(string)
	tok, err := jwt.ParseSigned(s, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("id_token %q: %v", s, err)
	}
	var c idClaims
	if err := tok.Claims(f.u.idPub, &c); err != nil {
		t.Fatalf("the ID token does not verify against the floor's RS256 key: %v", err)
	}
	return c
}

func rows(t *testing.T, f *floor, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.u.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPasswordGrant(t *testing.T) {
	f, ts := newUserFloor(t)
	body := passwordTokens(t, ts, "read")
	if body["id_token"] != nil || body["scope"] != "read" || body["token_type"] != "Bearer" {
		t.Errorf("plain OAuth answer %v: no ID token without openid", body)
	}
	if c, ok := f.verify(body["access_token"].(string)); !ok || c.Subject != "user-alice" || c.ClientID != "bench" {
		t.Errorf("access token claims %+v, valid %v", c, ok)
	}
	for _, tc := range []url.Values{
		{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong"}},
		{"grant_type": {"password"}, "username": {"bob"}, "password": {userPassword}},
	} {
		if resp, body := post(t, ts, "/token", true, tc); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
			t.Errorf("%v: %d %v, want 400 invalid_grant (RFC 6749 §5.2)", tc, resp.StatusCode, body)
		}
	}
}

// Rotation: every refresh returns a new refresh token and spends the old
// one; the spent one presented again revokes the family, so the
// successor an attacker may hold dies too (RFC 9700 §4.14.2).
func TestRefreshRotation(t *testing.T) {
	f, ts := newUserFloor(t)
	first := passwordTokens(t, ts, "openid read")
	old := first["refresh_token"].(string)
	resp, next := refreshWith(t, ts, old)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %v", resp.StatusCode, next)
	}
	newer, _ := next["refresh_token"].(string)
	if newer == "" || newer == old {
		t.Fatalf("refresh token not rotated: %v", next)
	}
	if c := idClaimsOf(t, f, next["id_token"]); c.Subject != "user-alice" || c.Audience != "bench" || c.Issuer != f.cfg.Issuer || c.AuthTime == 0 {
		t.Errorf("ID token at refresh: %+v (OpenID Connect Core §12.2)", c)
	}
	if n := rows(t, f, "SELECT count(*) FROM refresh_tokens WHERE digest = ? AND rotated_at IS NOT NULL", digestOf(old)); n != 1 {
		t.Errorf("the old token is not marked rotated in the store (%d rows)", n)
	}
	if n := rows(t, f, "SELECT count(*) FROM refresh_tokens WHERE digest = ? OR digest = ?", old, newer); n != 0 {
		t.Error("a refresh token is stored in the clear; only digests may be")
	}

	resp, body := refreshWith(t, ts, old)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("the rotated token again: %d %v, want 400 invalid_grant", resp.StatusCode, body)
	}
	if resp, body := refreshWith(t, ts, newer); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("after reuse, the successor: %d %v, want invalid_grant (the family is revoked)", resp.StatusCode, body)
	}
	if n := rows(t, f, "SELECT count(*) FROM refresh_tokens"); n != 0 {
		t.Errorf("%d refresh tokens left after the family was revoked", n)
	}
}

func TestRefreshErrors(t *testing.T) {
	_, ts := newUserFloor(t)
	tok := passwordTokens(t, ts, "read")["refresh_token"].(string)
	if resp, body := post(t, ts, "/token", true, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok},
		"scope": {"write"}}); resp.StatusCode != 400 || body["error"] != "invalid_scope" {
		t.Errorf("a wider scope at refresh: %d %v, want invalid_scope (RFC 6749 §6)", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		name  string
		form  url.Values
		code  string
		basic bool
	}{
		{"unknown", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, "invalid_grant", true},
		{"missing", url.Values{"grant_type": {"refresh_token"}}, "invalid_request", true},
		{"no client", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}, "invalid_client", false},
	} {
		if resp, body := post(t, ts, "/token", tc.basic, tc.form); body["error"] != tc.code || resp.StatusCode >= 500 {
			t.Errorf("%s: %d %v, want %s", tc.name, resp.StatusCode, body, tc.code)
		}
	}
	// The refused attempts above spent nothing.
	if resp, body := refreshWith(t, ts, tok); resp.StatusCode != http.StatusOK {
		t.Errorf("the token after refused requests: %d %v", resp.StatusCode, body)
	}
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func authURL(ts *httptest.Server, q url.Values) string {
	base := url.Values{"response_type": {"code"}, "client_id": {"bench"}, "redirect_uri": {redirectURI},
		"state": {"st"}, "code_challenge_method": {"S256"}, "scope": {"openid read"}}
	for k, v := range q {
		base[k] = v
	}
	return ts.URL + "/authorize?" + base.Encode()
}

func redeem(t *testing.T, ts *httptest.Server, code, verifier string) (*http.Response, map[string]any) {
	t.Helper()
	return post(t, ts, "/token", true, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}})
}

// The code flow as latchkey bench walks it: the login form on the first
// walk, none on the second (the session cookie), and each code redeemed
// once with its verifier (RFC 6749 §4.1.2 single use, RFC 7636 §4.6).
func TestCodeFlow(t *testing.T) {
	f, ts := newUserFloor(t)
	w := &formflow.Walker{Username: "alice", Password: userPassword, RedirectURI: redirectURI}
	verifier := strings.Repeat("v", 43)
	res, err := w.Walk(t.Context(), authURL(ts, url.Values{"code_challenge": {challenge(verifier)}, "nonce": {"n-1"}}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Hops != 2 || res.State != "st" || res.Iss != f.cfg.Issuer || res.Code == "" {
		t.Fatalf("first walk: %+v, want the login form, then the redirect with code, state and iss (RFC 9207)", res)
	}
	if n := rows(t, f, "SELECT count(*) FROM codes WHERE digest = ?", digestOf(res.Code)); n != 1 {
		t.Fatalf("the code's digest is not stored (%d rows)", n)
	}
	resp, tok := redeem(t, ts, res.Code, strings.Repeat("x", 43))
	if resp.StatusCode != 400 || tok["error"] != "invalid_grant" {
		t.Fatalf("a wrong code_verifier: %d %v, want invalid_grant (RFC 7636 §4.6)", resp.StatusCode, tok)
	}
	if resp, tok = redeem(t, ts, res.Code, verifier); resp.StatusCode != 400 || tok["error"] != "invalid_grant" {
		t.Fatalf("the code after a wrong verifier: %d %v, want invalid_grant: the attempt spends it", resp.StatusCode, tok)
	}

	verifier = strings.Repeat("w", 43)
	res, err = w.Walk(t.Context(), authURL(ts, url.Values{"code_challenge": {challenge(verifier)}, "nonce": {"n-2"}}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Hops != 1 || res.Code == "" {
		t.Fatalf("second walk %+v: the session cookie should skip the login", res)
	}
	resp, tok = redeem(t, ts, res.Code, verifier)
	if resp.StatusCode != http.StatusOK || tok["refresh_token"] == nil || tok["scope"] != "openid read" {
		t.Fatalf("redeem: %d %v", resp.StatusCode, tok)
	}
	if c := idClaimsOf(t, f, tok["id_token"]); c.Nonce != "n-2" || c.Audience != "bench" || c.Subject != "user-alice" {
		t.Errorf("ID token %+v: want the request's nonce (OpenID Connect Core §3.1.3.6)", c)
	}
	if resp, again := redeem(t, ts, res.Code, verifier); resp.StatusCode != 400 || again["error"] != "invalid_grant" {
		t.Errorf("the code a second time: %d %v, want invalid_grant (single use)", resp.StatusCode, again)
	}
	if n := rows(t, f, "SELECT count(*) FROM codes"); n != 0 {
		t.Errorf("%d codes left after redemption", n)
	}
	if resp, body := refreshWith(t, ts, tok["refresh_token"].(string)); resp.StatusCode != http.StatusOK {
		t.Errorf("the code flow's refresh token: %d %v", resp.StatusCode, body)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	_, ts := newUserFloor(t)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ch := challenge(strings.Repeat("v", 43))
	for _, tc := range []struct {
		name, rule string
		q          url.Values
		status     int
		errCode    string
	}{
		{"foreign redirect_uri", "RFC 6749 §4.1.2.1: never redirect to an unverified URI",
			url.Values{"code_challenge": {ch}, "redirect_uri": {"http://evil.example/cb"}}, 400, ""},
		{"unknown client", "RFC 6749 §4.1.2.1", url.Values{"code_challenge": {ch}, "client_id": {"other"}}, 400, ""},
		{"no PKCE", "RFC 9700 §2.1.1 PKCE required", url.Values{}, 302, "invalid_request"},
		{"plain PKCE", "RFC 7636 §4.2 S256 only", url.Values{"code_challenge": {ch}, "code_challenge_method": {"plain"}}, 302, "invalid_request"},
		{"token response type", "RFC 6749 §4.1.2.1", url.Values{"code_challenge": {ch}, "response_type": {"token"}}, 302, "unsupported_response_type"},
		{"foreign scope", "RFC 6749 §4.1.2.1", url.Values{"code_challenge": {ch}, "scope": {"admin"}}, 302, "invalid_scope"},
	} {
		resp := get(authURL(ts, tc.q))
		loc, _ := resp.Location()
		if resp.StatusCode != tc.status || (tc.errCode != "" && (loc == nil || loc.Query().Get("error") != tc.errCode)) ||
			(tc.errCode == "" && loc != nil) {
			t.Errorf("%s (%s): %d %v", tc.name, tc.rule, resp.StatusCode, loc)
		}
	}
	resp := get(authURL(ts, url.Values{"code_challenge": {ch}}))
	if resp.StatusCode != 200 || resp.Header.Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("login page: %d %v: clickjacking protection required", resp.StatusCode, resp.Header)
	}
	// A login POST without the CSRF cookie is refused before the password is looked at.
	form := url.Values{"response_type": {"code"}, "client_id": {"bench"}, "redirect_uri": {redirectURI},
		"code_challenge": {ch}, "code_challenge_method": {"S256"}, "csrf": {"guess"}, "username": {"alice"}, "password": {userPassword}}
	r, err := hc.PostForm(ts.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden || r.Header.Get("Set-Cookie") != "" {
		t.Errorf("login without the CSRF cookie: %d, cookies %q; want 403 and no session", r.StatusCode, r.Header.Get("Set-Cookie"))
	}
}

// The load generator drives the floor's user grants exactly as it drives
// Latchkey in bench/run, without a failure.
func TestLoadGenerator(t *testing.T) {
	_, ts := newUserFloor(t)
	for _, cfg := range []loadgen.Config{
		{Grant: loadgen.Password, Scope: "read", Requests: 4},
		{Grant: loadgen.Refresh, Scope: "read", Requests: 100},
		{Grant: loadgen.Refresh, Scope: "openid read", Requests: 50},
		{Grant: loadgen.AuthorizationCode, RedirectURI: redirectURI, Requests: 100},
		{Grant: loadgen.AuthorizationCode, RedirectURI: redirectURI, Requests: 10, FreshSession: true},
	} {
		cfg.Issuer, cfg.ClientID, cfg.ClientSecret, cfg.Username, cfg.Password = ts.URL, "bench", secret, "alice", userPassword
		cfg.Concurrency = 4
		res, err := loadgen.Run(t.Context(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Grant, err)
		}
		if res.Failures != 0 || res.OK == 0 || res.Renewals != 0 {
			b, _ := json.Marshal(res)
			t.Errorf("%s (scope %q, fresh %v): %s", cfg.Grant, cfg.Scope, cfg.FreshSession, b)
		}
	}
}

// BenchmarkRefresh and BenchmarkCodeExchange run the handlers without the
// network, beside internal/server's benchmarks of the same grants.
func BenchmarkRefresh(b *testing.B) {
	for _, scope := range []string{"read", "openid read"} {
		b.Run(strings.ReplaceAll(scope, " ", "+"), func(b *testing.B) {
			f, _ := newUserFloor(b)
			h := f.routes()
			var tok userTokens
			json.Unmarshal(benchPost(b, h, "/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
				"password": {userPassword}, "scope": {scope}}.Encode()).Body.Bytes(), &tok)
			b.ReportAllocs()
			for b.Loop() {
				rec := benchPost(b, h, "/token", "grant_type=refresh_token&refresh_token="+tok.RefreshToken)
				tok = userTokens{}
				json.Unmarshal(rec.Body.Bytes(), &tok)
			}
		})
	}
}

func BenchmarkCodeFlow(b *testing.B) {
	f, _ := newUserFloor(b)
	h := f.routes()
	session := &http.Cookie{Name: sessionCookie, Value: f.sessionValue(time.Now().Unix())}
	verifier := strings.Repeat("v", 43)
	q := url.Values{"response_type": {"code"}, "client_id": {"bench"}, "redirect_uri": {redirectURI}, "state": {"st"},
		"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}, "scope": {"openid read"}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/authorize?"+q, nil)
		req.AddCookie(session)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		loc, err := url.Parse(rec.Header().Get("Location"))
		if rec.Code != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
			b.Fatalf("authorize: %d %v", rec.Code, rec.Header())
		}
		benchPost(b, h, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
			"redirect_uri": {redirectURI}, "code_verifier": {verifier}}.Encode())
	}
}
