package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestAccountAcrossInstances: two instances on one PostgreSQL, as behind a
// load balancer. alice signs in to the RP through A; on B, from another
// browser, she ends that session and removes the RP's access. A signs the
// first browser out at once, the RP gets its logout token (signed with
// the shared keys, valid against A's JWKS), and A refuses the RP's
// refresh token.
func TestAccountAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	rc := newBCReceiver(t)
	dev := func(c *server.Config) {
		c.BackchannelLogout.Poster = safefetch.New(safefetch.Options{AllowLoopback: true})
		c.BackchannelLogout.RetryDelay = 20 * time.Millisecond
	}
	a := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn), Configure: dev})
	b := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn), Configure: func(c *server.Config) {
		dev(c)
		c.Issuer = a.URL // one issuer, two listeners
	}})
	sa := &azSetup{Env: a}
	rp := azWebClient("rp")
	rp.BackchannelLogoutURI = rc.URL + "/backchannel"
	secret := sa.AddClient(t, rp)
	sa.user = a.AddUser(t, azUser, azPassword, nil)
	sb := &azSetup{Env: b, user: sa.user}

	first := sa.browser(t)
	tok := bcSignIn(t, sa, first, "rp", secret)
	_, idClaims := azJWT(t, tok.IDToken)

	// The second browser (a cookie jar of its own) talks to B only.
	second := sb.browser(t)
	page := second.get(b.URL + "/account")
	r := second.post(b.URL+"/account/login", url.Values{"csrf": {loginCSRF(t, page.body)}, "username": {azUser}, "password": {azPassword}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign in on B: %d\n%.500s", r.status, r.body)
	}
	page = second.get(b.URL + "/account")
	tokens := accountTokens(t, page.body)
	if !strings.Contains(page.body, "Web rp") {
		t.Fatalf("B's page does not list the RP consented to on A:\n%.2000s", page.body)
	}
	r = second.post(b.URL+"/account/sessions/end", url.Values{"csrf": {tokens["/account/sessions/end"]}, "sid": {idClaims["sid"].(string)}})
	if r.status != http.StatusSeeOther || !strings.HasSuffix(r.location(), "/account?done=session") {
		t.Fatalf("end on B: %d %q", r.status, r.location())
	}
	claims := verifyLogoutToken(t, a, rc.next(t).form.Get("logout_token"))
	if claims["sid"] != idClaims["sid"] {
		t.Fatalf("logout token sid %v, want %v", claims["sid"], idClaims["sid"])
	}
	if p := first.get(a.URL + "/account"); !strings.Contains(p.body, `action="/account/login"`) {
		t.Fatal("A still signs the ended session in")
	}

	r = second.post(b.URL+"/account/consents/withdraw", url.Values{"csrf": {tokens["/account/consents/withdraw"]}, "client_id": {"rp"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("withdraw on B: %d", r.status)
	}
	resp, got := azPostToken(t, a, "rp", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	azWantTokenError(t, resp, got, http.StatusBadRequest, "invalid_grant")
}
