package server_test

// OpenID Connect Back-Channel Logout 1.0: a local receiver gets the logout
// token, which is checked with go-jose the way §2.6 tells an RP to; a 500
// is retried; the production SSRF policy never posts to a loopback
// listener (STANDARDS.md A25).

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// bcReceiver is a client's backchannel_logout_uri: it records every POST
// and answers the statuses it is given in turn, then 200.
type bcReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      chan bcPost
}

// bcPost is one request the receiver got.
type bcPost struct {
	method, contentType string
	form                url.Values
}

func newBCReceiver(t *testing.T, statuses ...int) *bcReceiver {
	rc := &bcReceiver{statuses: statuses, got: make(chan bcPost, 16)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rc.got <- bcPost{method: r.Method, contentType: r.Header.Get("Content-Type"), form: form}
		rc.mu.Lock()
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// next waits for the receiver's next request.
func (rc *bcReceiver) next(t *testing.T) bcPost {
	t.Helper()
	select {
	case p := <-rc.got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got no logout token")
		return bcPost{}
	}
}

// bcSetup is a Latchkey with the client "rp" registered for back-channel
// logout at rc, and "web" (not registered). allowLoopback is the dev/test
// allowance; without it the production policy applies.
func bcSetup(t *testing.T, rc *bcReceiver, allowLoopback bool) (*azSetup, string) {
	t.Helper()
	s := newAZ(t, testenv.Options{Configure: func(c *server.Config) {
		c.BackchannelLogout.RetryDelay = 20 * time.Millisecond
		if allowLoopback {
			c.BackchannelLogout.Poster = safefetch.New(safefetch.Options{AllowLoopback: true})
		}
	}})
	rp := azWebClient("rp")
	rp.BackchannelLogoutURI = rc.URL + "/backchannel"
	rp.BackchannelLogoutSessionRequired = true
	return s, s.AddClient(t, rp)
}

// bcSignIn runs the code flow for clientID in b and returns the tokens.
func bcSignIn(t *testing.T, s *azSetup, b *azBrowser, clientID, secret string) azTokenJSON {
	t.Helper()
	params, verifier := azParams(clientID)
	resp, tok := azRedeem(t, s.Env, clientID, secret, b.code(params), verifier)
	if resp.status != http.StatusOK || tok.IDToken == "" {
		t.Fatalf("redeem: %d %s", resp.status, resp.body)
	}
	return tok
}

// bcLogout signs b out at the end_session_endpoint with an id_token_hint
// (no confirmation asked).
func bcLogout(t *testing.T, s *azSetup, b *azBrowser, idToken string) {
	t.Helper()
	r := b.get(s.URL + "/logout?" + url.Values{"id_token_hint": {idToken}}.Encode())
	if r.status != http.StatusOK || !strings.Contains(r.body, "signed out") {
		t.Fatalf("logout: %d\n%.1000s", r.status, r.body)
	}
}

func TestBackchannelLogoutDelivered(t *testing.T) {
	rc := newBCReceiver(t)
	s, secret := bcSetup(t, rc, true)
	b := s.browser(t)
	tok := bcSignIn(t, s, b, "rp", secret)
	_, idClaims := azJWT(t, tok.IDToken)
	sid, _ := idClaims["sid"].(string)
	if len(sid) < 20 {
		t.Fatalf("ID token sid = %q, want a random session id (Back-Channel Logout §2.1)", sid)
	}
	// The sid is not the session cookie, nor derived from it in the open.
	for _, c := range b.c.Jar.Cookies(mustURL(t, s.URL)) {
		if strings.Contains(c.Value, sid) || strings.Contains(sid, c.Value) {
			t.Fatalf("sid %q overlaps cookie %s", sid, c.Name)
		}
	}

	bcLogout(t, s, b, tok.IDToken)
	post := rc.next(t)
	if post.method != http.MethodPost || post.contentType != "application/x-www-form-urlencoded" {
		t.Fatalf("receiver got %s %q, want a form POST (§2.5)", post.method, post.contentType)
	}
	claims := verifyLogoutToken(t, s.Env, post.form.Get("logout_token"))
	if claims["aud"] != "rp" || claims["sub"] != s.user.ID || claims["sid"] != sid {
		t.Fatalf("logout token aud %v sub %v sid %v, want rp %s %s", claims["aud"], claims["sub"], claims["sid"], s.user.ID, sid)
	}

	// The refresh token still works: back-channel logout ends the RP's
	// session, not its offline access; and no second token arrives.
	select {
	case p := <-rc.got:
		t.Fatalf("a second logout token arrived: %v", p.form)
	case <-time.After(200 * time.Millisecond):
	}
}

// verifyLogoutToken validates raw as §2.6 asks of the RP: a JWS signed by
// a key of the issuer's JWKS with an allowed algorithm, typ logout+jwt,
// iss the issuer, iat and exp present and current, jti present, the
// back-channel event, no nonce. It returns the claims.
func verifyLogoutToken(t *testing.T, env *testenv.Env, raw string) map[string]any {
	t.Helper()
	if raw == "" {
		t.Fatal("no logout_token in the POST")
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256, jose.EdDSA})
	if err != nil {
		t.Fatalf("logout token: %v", err)
	}
	if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); typ != "logout+jwt" {
		t.Fatalf("typ = %q, want logout+jwt", typ)
	}
	if tok.Headers[0].Algorithm != "RS256" {
		t.Fatalf("alg = %s, want the client's ID token algorithm RS256", tok.Headers[0].Algorithm)
	}
	resp, err := http.Get(env.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	var std jwt.Claims
	if err := tok.Claims(set, &claims, &std); err != nil {
		t.Fatalf("signature against the JWKS: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: env.URL, Time: env.Clock.Now()}, 0); err != nil {
		t.Fatalf("iss/exp: %v", err)
	}
	if std.IssuedAt == nil || std.Expiry == nil || std.ID == "" {
		t.Fatalf("iat %v exp %v jti %q: all are required", std.IssuedAt, std.Expiry, std.ID)
	}
	if life := std.Expiry.Time().Sub(std.IssuedAt.Time()); life <= 0 || life > 5*time.Minute {
		t.Fatalf("logout token lives %v, want a short life", life)
	}
	events, _ := claims["events"].(map[string]any)
	ev, ok := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any)
	if !ok || len(ev) != 0 {
		t.Fatalf("events = %v, want the back-channel logout event with an empty object", claims["events"])
	}
	if _, has := claims["nonce"]; has {
		t.Fatal("a logout token must not carry a nonce (§2.4)")
	}
	return claims
}

// Ending a session from the account page (another browser's) sends the
// logout token of that session, not of the one doing it.
func TestBackchannelOnAccountEndSession(t *testing.T) {
	rc := newBCReceiver(t)
	s, secret := bcSetup(t, rc, true)
	signedIn := s.browser(t)
	_, idClaims := azJWT(t, bcSignIn(t, s, signedIn, "rp", secret).IDToken)
	admin := s.browser(t)
	tokens := accountTokens(t, accountBrowser(t, s, admin).body)
	r := admin.post(s.URL+"/account/sessions/end", url.Values{"csrf": {tokens["/account/sessions/end"]}, "sid": {idClaims["sid"].(string)}})
	if r.status != http.StatusSeeOther || r.location() != s.URL+"/account?done=session" {
		t.Fatalf("end session: %d %q", r.status, r.location())
	}
	claims := verifyLogoutToken(t, s.Env, rc.next(t).form.Get("logout_token"))
	if claims["sid"] != idClaims["sid"] || claims["sub"] != s.user.ID {
		t.Fatalf("logout token sid %v sub %v, want %v %s", claims["sid"], claims["sub"], idClaims["sid"], s.user.ID)
	}
	if page := signedIn.get(s.URL + "/account"); !strings.Contains(page.body, `action="/account/login"`) {
		t.Fatal("the ended session still signs in")
	}
}

func TestBackchannelRetriedAfter500(t *testing.T) {
	rc := newBCReceiver(t, http.StatusInternalServerError, http.StatusServiceUnavailable)
	s, secret := bcSetup(t, rc, true)
	b := s.browser(t)
	tok := bcSignIn(t, s, b, "rp", secret)
	bcLogout(t, s, b, tok.IDToken)
	first := rc.next(t).form.Get("logout_token")
	second := rc.next(t).form.Get("logout_token")
	third := rc.next(t).form.Get("logout_token")
	if first == "" || first != second || second != third {
		t.Fatal("the retries must send the same logout token")
	}
	verifyLogoutToken(t, s.Env, third)
	waitLog(t, s.Env, `"msg":"back-channel logout delivered"`, `"attempt":3`)
}

func TestBackchannelNeverToPrivateAddress_A25(t *testing.T) {
	rc := newBCReceiver(t) // on 127.0.0.1: the production policy refuses it
	s, secret := bcSetup(t, rc, false)
	b := s.browser(t)
	tok := bcSignIn(t, s, b, "rp", secret)
	bcLogout(t, s, b, tok.IDToken)
	waitLog(t, s.Env, `"msg":"back-channel logout not delivered"`, `"attempts":1`, "loopback")
	select {
	case p := <-rc.got:
		t.Fatalf("the loopback receiver got a request: %v", p)
	case <-time.After(100 * time.Millisecond):
	}
	if strings.Contains(s.Logs.String(), tok.IDToken[:40]) {
		t.Fatal("a token reached the logs")
	}
}

func TestBackchannelSIDOnlyForRegisteredClients(t *testing.T) {
	rc := newBCReceiver(t)
	s, _ := bcSetup(t, rc, true)
	b := s.browser(t)
	tok := bcSignIn(t, s, b, "web", s.secret)
	if _, claims := azJWT(t, tok.IDToken); claims["sid"] != nil {
		t.Fatalf("web is not registered for back-channel logout, yet its ID token has sid %v", claims["sid"])
	}
	// A refreshed ID token of a registered client keeps the session's sid.
	rp := azWebClient("rp2")
	rp.BackchannelLogoutURI = rc.URL + "/bc"
	secret := s.AddClient(t, rp)
	first := bcSignIn(t, s, b, "rp2", secret)
	_, c1 := azJWT(t, first.IDToken)
	resp, refreshed := azPostToken(t, s.Env, "rp2", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}})
	if resp.status != http.StatusOK || refreshed.IDToken == "" {
		t.Fatalf("refresh: %d %s", resp.status, resp.body)
	}
	if _, c2 := azJWT(t, refreshed.IDToken); c1["sid"] == nil || c2["sid"] != c1["sid"] {
		t.Fatalf("sid %v after refresh, want %v", c2["sid"], c1["sid"])
	}
	g, err := s.Store.ListUserGrants(context.Background(), s.user.ID, "rp2", s.Clock.Now())
	if err != nil || len(g) != 1 || g[0].SessionID != c1["sid"] {
		t.Fatalf("stored grants %+v (%v), want one with the session's sid", g, err)
	}
}

// waitLog waits until one log line holds every part.
func waitLog(t *testing.T, env *testenv.Env, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(env.Logs.String(), "\n") {
			if containsAll(line, parts) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line with %q; logs:\n%s", parts, env.Logs.String())
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
