package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testenv"
)

// auditRec is a running Latchkey with audit on: a real audit.Writer into
// the server's SQLite file, its log lines captured in auditLogs.
type auditRec struct {
	env       *testenv.Env
	auditLogs *testenv.Buffer
	writer    *audit.Writer
	// secrets are values no event and no log line may contain.
	secrets []string
}

func newAuditEnv(t *testing.T, configure func(*server.Config)) *auditRec {
	t.Helper()
	return newAuditEnvWith(t, testenv.Options{}, configure)
}

// newAuditEnvWith is newAuditEnv with the environment's other options
// (its store and Configure are the audit ones).
func newAuditEnvWith(t *testing.T, opts testenv.Options, configure func(*server.Config)) *auditRec {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := &auditRec{auditLogs: &testenv.Buffer{}}
	a.writer, err = audit.NewWriter(audit.Options{Sink: st, FlushEvery: 5 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(a.auditLogs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go a.writer.Run(context.WithoutCancel(t.Context()))
	t.Cleanup(func() { a.closeWriter(t) })
	opts.Store = st
	opts.Configure = func(c *server.Config) {
		c.Audit = a.writer
		if configure != nil {
			configure(c)
		}
	}
	a.env = testenv.New(t, opts)
	return a
}

// auditAZ is azSetup (client web, user alice) with audit on.
type auditAZ struct {
	*azSetup
	*auditRec
}

func newAuditAZ(t *testing.T, configure func(*server.Config)) *auditAZ {
	t.Helper()
	return newAuditAZWith(t, testenv.Options{}, configure)
}

func newAuditAZWith(t *testing.T, opts testenv.Options, configure func(*server.Config)) *auditAZ {
	t.Helper()
	rec := newAuditEnvWith(t, opts, configure)
	s := &azSetup{Env: rec.env}
	s.secret = rec.env.AddClient(t, azWebClient("web"))
	s.user = rec.env.AddUser(t, azUser, azPassword, map[string]any{"name": "Alice Liddell", "email": "alice@example.com"})
	rec.secrets = append(rec.secrets, azPassword, s.secret)
	return &auditAZ{azSetup: s, auditRec: rec}
}

func (a *auditRec) closeWriter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.writer.Close(ctx); err != nil {
		t.Error(err)
	}
}

// keep notes token values the test received, which must appear nowhere.
func (a *auditRec) keep(values ...string) {
	for _, v := range values {
		if v != "" {
			a.secrets = append(a.secrets, v)
		}
	}
}

// waitEvents returns the stored events of typ once there are at least n,
// failing the test if they do not come within 5 s (the writer flushes
// every 5 ms; the deadline only bounds a broken test).
func (a *auditRec) waitEvents(t *testing.T, typ audit.Type, n int) []store.AuditEvent {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := a.env.Store.ListAuditEvents(t.Context(), store.AuditQuery{Types: []string{string(typ)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events stored, want %d", len(got), typ, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noSecrets flushes the writer and checks that no stored event, no audit
// log line and no server log line contains a secret of the test.
func (a *auditRec) noSecrets(t *testing.T) {
	t.Helper()
	a.closeWriter(t)
	all, err := a.env.Store.ListAuditEvents(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := json.Marshal(all)
	for _, where := range []struct{ name, text string }{
		{"stored events", string(stored)}, {"audit log", a.auditLogs.String()}, {"server log", a.env.Logs.String()},
	} {
		for _, s := range a.secrets {
			if strings.Contains(where.text, s) {
				t.Errorf("the %s contain a secret or token (%.12s…)", where.name, s)
			}
		}
	}
	if !strings.Contains(a.auditLogs.String(), `"msg":"audit"`) {
		t.Error("no audit line in the log")
	}
}

// wantFields checks the fields of e that the test names.
func wantFields(t *testing.T, e store.AuditEvent, want store.AuditEvent) {
	t.Helper()
	for _, f := range []struct{ name, got, want string }{
		{"actor", e.Actor, want.Actor}, {"client_id", e.ClientID, want.ClientID}, {"user_id", e.UserID, want.UserID},
		{"reason", e.Reason, want.Reason}, {"ip", e.IP, want.IP},
	} {
		if f.want != "" && f.got != f.want {
			t.Errorf("%s event: %s = %q, want %q", e.Type, f.name, f.got, f.want)
		}
	}
	for k, v := range want.Details {
		if e.Details[k] != v {
			t.Errorf("%s event: details[%s] = %q, want %q (all: %v)", e.Type, k, e.Details[k], v, e.Details)
		}
	}
	if e.Time.IsZero() {
		t.Errorf("%s event without a time", e.Type)
	}
}

// The login page records every attempt with its reason category and the
// typed username, never the password (issue 15 item 3, A11: the page says
// no more than before).
func TestAuditSignin(t *testing.T) {
	a := newAuditAZ(t, nil)
	b := a.browser(t)
	const wrong = "not-the-password-123"
	a.keep(wrong)
	page := b.authorize(azReq("web"))
	for _, try := range []struct{ user, pw string }{{azUser, wrong}, {"mallory", wrong}} {
		r := b.login(page, try.user, try.pw)
		if r.status != http.StatusOK || !strings.Contains(r.body, "The username or password is incorrect.") {
			t.Fatalf("failed login: %d, want the generic message", r.status)
		}
		page = r
	}
	b.follow(b.login(page, azUser, azPassword))
	fails := a.waitEvents(t, audit.SigninFailure, 2)
	wantFields(t, fails[0], store.AuditEvent{ClientID: "web", UserID: a.user.ID, Reason: audit.ReasonWrongPassword, IP: "127.0.0.1",
		Details: map[string]string{"username": azUser, "endpoint": "/login"}})
	wantFields(t, fails[1], store.AuditEvent{ClientID: "web", Reason: audit.ReasonUnknownUser,
		Details: map[string]string{"username": "mallory"}})
	if fails[1].UserID != "" {
		t.Errorf("unknown user's failure names user %q", fails[1].UserID)
	}
	ok := a.waitEvents(t, audit.SigninSuccess, 1)
	wantFields(t, ok[0], store.AuditEvent{Actor: a.user.ID, ClientID: "web", UserID: a.user.ID, IP: "127.0.0.1"})
	a.noSecrets(t)
}

// A guessing limit coming into force is recorded once, by its kind, and
// the throttled attempt that follows is a failure with reason limited.
func TestAuditLimitReached(t *testing.T) {
	a := newAuditAZ(t, func(c *server.Config) { c.Limits.PerUsername = 2 })
	b := a.browser(t)
	page := b.authorize(azReq("web"))
	for range 3 {
		page = b.login(page, azUser, "wrong-guess-"+azPassword)
	}
	a.keep("wrong-guess-" + azPassword)
	reached := a.waitEvents(t, audit.LimitReached, 1)
	wantFields(t, reached[0], store.AuditEvent{ClientID: "web", Reason: audit.ReasonLimited, Details: map[string]string{"limit": "pw:user"}})
	if len(reached) != 1 {
		t.Errorf("%d limit.reached events, want 1 (the counter reached its limit once)", len(reached))
	}
	fails := a.waitEvents(t, audit.SigninFailure, 3)
	wantFields(t, fails[2], store.AuditEvent{Reason: audit.ReasonLimited})
	a.noSecrets(t)
}

// Consent, the code's token response, and a replay of the code: each is
// recorded with the ids that tie them together (jti, gid), never a value.
func TestAuditConsentIssuedAndCodeReplay(t *testing.T) {
	a := newAuditAZ(t, nil)
	params, verifier := azParams("web")
	code := a.browser(t).code(params)
	_, tok := azRedeem(t, a.Env, "web", a.secret, code, verifier)
	if tok.AccessToken == "" {
		t.Fatalf("no token: %+v", tok)
	}
	a.keep(code, verifier, tok.AccessToken, tok.RefreshToken, tok.IDToken)
	if r, _ := azRedeem(t, a.Env, "web", a.secret, code, verifier); r.status != http.StatusBadRequest {
		t.Fatalf("replayed code: %d", r.status)
	}
	consent := a.waitEvents(t, audit.ConsentGiven, 1)
	wantFields(t, consent[0], store.AuditEvent{Actor: a.user.ID, ClientID: "web", UserID: a.user.ID,
		Details: map[string]string{"scope": "openid profile", "flow": "authorize"}})
	_, claims := azJWT(t, tok.AccessToken)
	issued := a.waitEvents(t, audit.TokenIssued, 1)
	wantFields(t, issued[0], store.AuditEvent{Actor: a.user.ID, ClientID: "web", UserID: a.user.ID,
		Details: map[string]string{"grant_type": "authorization_code", "scope": "openid profile",
			"jti": claims["jti"].(string), "gid": claims["gid"].(string)}})
	replay := a.waitEvents(t, audit.CodeReplay, 1)
	wantFields(t, replay[0], store.AuditEvent{Actor: "client:web", ClientID: "web", UserID: a.user.ID,
		Details: map[string]string{"gid": claims["gid"].(string), "code": "authorization_code"}})
	a.noSecrets(t)
}

// A rotated refresh token presented again is recorded with the family
// that was revoked (S133).
func TestAuditRefreshReuse(t *testing.T) {
	a := newAuditAZ(t, nil)
	params, verifier := azParams("web")
	code := a.browser(t).code(params)
	_, tok := azRedeem(t, a.Env, "web", a.secret, code, verifier)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	_, next := azPostToken(t, a.Env, "web", a.secret, refresh)
	if next.RefreshToken == "" {
		t.Fatalf("refresh: %+v", next)
	}
	if r, _ := azPostToken(t, a.Env, "web", a.secret, refresh); r.status != http.StatusBadRequest {
		t.Fatalf("reused refresh token: %d", r.status)
	}
	a.keep(code, tok.AccessToken, tok.RefreshToken, tok.IDToken, next.AccessToken, next.RefreshToken, next.IDToken)
	_, claims := azJWT(t, tok.AccessToken)
	reuse := a.waitEvents(t, audit.RefreshReuse, 1)
	wantFields(t, reuse[0], store.AuditEvent{ClientID: "web", UserID: a.user.ID, Details: map[string]string{"gid": claims["gid"].(string)}})
	issued := a.waitEvents(t, audit.TokenIssued, 2)
	wantFields(t, issued[1], store.AuditEvent{Details: map[string]string{"grant_type": "refresh_token", "gid": claims["gid"].(string)}})
	a.noSecrets(t)
}

// /revoke records what it revoked: a refresh token's grant, an access
// token's jti (RFC 7009).
func TestAuditRevoke(t *testing.T) {
	a := newAuditAZ(t, nil)
	params, verifier := azParams("web")
	code := a.browser(t).code(params)
	_, tok := azRedeem(t, a.Env, "web", a.secret, code, verifier)
	a.keep(code, tok.AccessToken, tok.RefreshToken, tok.IDToken)
	for _, v := range []string{tok.AccessToken, tok.RefreshToken} {
		if r := post(t, a.Env, "/revoke", url.Values{"token": {v}}, basic("web", a.secret)); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d", r.Status)
		}
	}
	_, claims := azJWT(t, tok.AccessToken)
	revoked := a.waitEvents(t, audit.TokenRevoked, 2)
	wantFields(t, revoked[0], store.AuditEvent{Actor: "client:web", ClientID: "web", UserID: a.user.ID,
		Details: map[string]string{"token_type": "access_token", "jti": claims["jti"].(string)}})
	wantFields(t, revoked[1], store.AuditEvent{ClientID: "web", UserID: a.user.ID,
		Details: map[string]string{"token_type": "refresh_token", "gid": claims["gid"].(string)}})
	a.noSecrets(t)
}

// Client credentials: the client is the actor, no user, the jti of the
// token it got.
func TestAuditClientCredentials(t *testing.T) {
	a := newAuditAZ(t, nil)
	secret := a.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	_, tok := azPostToken(t, a.Env, "svc", secret, url.Values{"grant_type": {"client_credentials"}})
	if tok.AccessToken == "" {
		t.Fatalf("no token: %+v", tok)
	}
	a.keep(secret, tok.AccessToken)
	_, claims := azJWT(t, tok.AccessToken)
	issued := a.waitEvents(t, audit.TokenIssued, 1)
	wantFields(t, issued[0], store.AuditEvent{Actor: "client:svc", ClientID: "svc",
		Details: map[string]string{"grant_type": "client_credentials", "scope": "read", "jti": claims["jti"].(string)}})
	if issued[0].UserID != "" || issued[0].Details["gid"] != "" {
		t.Errorf("client credentials event names a user or grant: %+v", issued[0])
	}
	a.noSecrets(t)
}

// Logging out ends the session, recorded as session.ended for the user.
func TestAuditLogout(t *testing.T) {
	a := newAuditAZ(t, nil)
	b := a.browser(t)
	b.code(azReq("web"))
	page := b.get(a.URL + "/logout?state=bye")
	f := azHidden(t, page.body)
	f.Set("decision", "logout")
	if r := b.post(a.URL+"/logout", f); r.status != http.StatusOK {
		t.Fatalf("logout: %d", r.status)
	}
	ended := a.waitEvents(t, audit.SessionEnded, 1)
	wantFields(t, ended[0], store.AuditEvent{Actor: a.user.ID, UserID: a.user.ID, Details: map[string]string{"via": "logout"}})
	a.noSecrets(t)
}

// The device flow: the approval is a consent.given (flow device), the
// device code's token a token.issued, and the device code presented again
// a code.replay that names the revoked grant (S019 applied to device codes).
func TestAuditDeviceConsentAndReplay(t *testing.T) {
	a := newAuditEnv(t, nil)
	s := newDVOn(t, &fixture{Env: a.env})
	a.keep(dvPassword, s.boxSecret, s.webSecret, s.rsSecret)
	auth := s.tvAuthorize(t, "read")
	a.keep(auth.DeviceCode, auth.UserCode)
	b := s.browser(t)
	login := b.enter(b.open(auth.VerificationURIComplete), auth.UserCode)
	consent := b.follow(b.submit(login, nil))
	if done := b.decide(consent, "approve"); done.status != http.StatusOK {
		t.Fatalf("approve: %d", done.status)
	}
	s.Clock.Advance(5 * time.Second)
	tok := wantToken(t, s.poll(t, "tv", auth.DeviceCode))
	a.keep(tok["access_token"].(string))
	s.Clock.Advance(5 * time.Second)
	wantOAuthError(t, s.poll(t, "tv", auth.DeviceCode), http.StatusBadRequest, "invalid_grant")
	_, claims := azJWT(t, tok["access_token"].(string))
	given := a.waitEvents(t, audit.ConsentGiven, 1)
	wantFields(t, given[0], store.AuditEvent{ClientID: "tv", UserID: s.user.ID, Details: map[string]string{"scope": "read", "flow": "device"}})
	issued := a.waitEvents(t, audit.TokenIssued, 1)
	wantFields(t, issued[0], store.AuditEvent{ClientID: "tv", UserID: s.user.ID,
		Details: map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "jti": claims["jti"].(string)}})
	replay := a.waitEvents(t, audit.CodeReplay, 1)
	wantFields(t, replay[0], store.AuditEvent{ClientID: "tv", UserID: s.user.ID,
		Details: map[string]string{"code": "device_code", "gid": claims["gid"].(string)}})
	a.noSecrets(t)
}
