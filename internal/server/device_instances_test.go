package server_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestDeviceAcrossInstances: the device polls instance A while the user
// enters the code, signs in and approves on instance B, both on one
// PostgreSQL, as behind a load balancer (issue 12). Everything the flow
// keeps is in the store: the code, the decision, the polling interval
// (slow_down counted across instances, S190) and the guessing counters
// (A24). Like TestReplayAcrossInstances, the two instances are two
// complete servers with pools of their own, joined by the database only.
func TestDeviceAcrossInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	limits := dvLimits(2, 100)
	a := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn), Configure: limits})
	b := testenv.New(t, testenv.Options{Store: openPostgres(t, dsn), Configure: func(c *server.Config) {
		limits(c)
		c.Issuer = a.URL // one issuer, two listeners
	}})
	devA, devB := newDVOn(t, &fixture{Env: a}), &dvSetup{fixture: &fixture{Env: b}}
	onB := func(u *url.URL) { u.Host = strings.TrimPrefix(b.URL, "http://") }

	code := devA.tvAuthorize(t, "openid read")
	devA.wantPoll(t, devA.poll(t, "tv", code.DeviceCode), "authorization_pending")
	devB.wantPoll(t, devB.poll(t, "tv", code.DeviceCode), "slow_down") // A's poll was recorded

	// Two wrong codes on A hold the browser back on B.
	guesser := devA.browser(t)
	entry := guesser.open(a.URL + "/device")
	for i := range 2 {
		wantNotValid(t, guesser.enter(entry, wrongCode(i)))
	}
	guesser.route = onB
	wantTooMany(t, guesser.enter(entry, code.UserCode))

	user := devB.browser(t)
	user.route = onB
	consent := user.toConsent(code.VerificationURIComplete, code.UserCode)
	if !strings.Contains(consent.body, "Living Room TV") || consent.url.Host != strings.TrimPrefix(b.URL, "http://") {
		t.Fatalf("the consent page was not served by B: %s", consent.url)
	}
	user.decide(consent, "approve")

	devA.Clock.Advance(15 * time.Second)
	tok := wantToken(t, devA.poll(t, "tv", code.DeviceCode))
	if tok["id_token"] == nil {
		t.Errorf("A's tokens for B's approval lack the ID token: %v", tok)
	}
	devB.Clock.Advance(15 * time.Second)
	devB.wantPoll(t, devB.poll(t, "tv", code.DeviceCode), "invalid_grant") // redeemed on A
}
