package server_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestMFAAcrossInstances: two instances on one PostgreSQL. alice enrols
// on A and gives her password on A; the code goes to B, which continues
// the pending sign-in (a cookie MACed with the shared system secret),
// refuses the step the enrolment used on A (the counter is in the
// store), accepts the next one, and the code B's session issues says
// amr otp, acr mfa.
func TestMFAAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn)})
	b := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn), Configure: func(c *server.Config) { c.Issuer = a.URL }})
	sa := &azSetup{Env: a}
	sa.secret = sa.AddClient(t, azWebClient("web"))
	sa.user = a.AddUser(t, azUser, azPassword, nil)
	totpSecret, _ := enrolOnAccount(t, sa, sa.browser(t))
	enrolled := totpCode(t, totpSecret, a.Clock.Now())

	br := sa.browser(t) // one cookie jar: cookies ignore the port, so A's reach B
	params, verifier := azParams("web")
	page := loginToMFA(t, br, params)
	f := hidden(page.body)
	f.Set("code", enrolled)
	if r := br.post(b.URL+"/login/mfa", f); !r.isMFA() {
		t.Fatalf("the code A's enrolment used, on B: %d, want refused\n%.1500s", r.status, r.body)
	}
	f.Set("code", totpCode(t, totpSecret, a.Clock.Now().Add(30*time.Second)))
	r := br.post(b.URL+"/login/mfa", f)
	if r.status != http.StatusSeeOther {
		t.Fatalf("the next code on B: %d\n%.1500s", r.status, r.body)
	}
	q := finish(t, br, r)
	res, tok := azRedeem(t, b, "web", sa.secret, q.Get("code"), verifier)
	if res.status != http.StatusOK {
		t.Fatalf("redeem on B: %s", res.body)
	}
	_, claims := azJWT(t, tok.IDToken)
	if claims["acr"] != acrMFA || !slices.Contains(amrOf(claims), "otp") {
		t.Fatalf("amr %v acr %v", claims["amr"], claims["acr"])
	}
}
