package cluster

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestKillOneOfThree runs load against three instances on one PostgreSQL
// schema from clients that fail over by themselves: each request goes to
// the next instance in turn and, on a connection error or a 503, to the
// next one again. One instance is killed with SIGKILL in the middle: the
// two others carry on and every client request succeeds; the killed one,
// restarted, serves its share again. Nothing is lost or used twice: every
// refresh chain's last token refreshes once (its client has a
// refresh_grace, so a refresh the kill cut off and the client sent again
// gets the successor the killed instance had already stored), and every
// code redeems once at most.
func TestKillOneOfThree(t *testing.T) {
	c := startCluster(t, 3, false)
	rt := newRetrier(30*time.Second, 15*time.Second, c.ins...)
	mix := loadMix{clientCreds: 2, opaque: 1, passwords: 3, codes: 2, refreshes: 8, chainClient: grace}
	// The instances are reached directly; the balancer's URL is only the
	// issuer, which the browser checks redirects against.
	l := newLoadVia(mix, c.lb.url, c.lb.url, rt)
	wait := l.run(context.Background())
	time.Sleep(3 * time.Second)

	// 1. kill -9 of instance 2; the others carry on.
	victim := c.ins[1]
	before := l.tr.started.Load()
	victim.kill()
	died := time.Now()
	time.Sleep(3 * time.Second)
	during := l.tr.started.Load() - before
	if during < 20 {
		t.Errorf("only %d requests were sent in the 3 s after the kill: the two other instances did not carry the load", during)
	}
	for _, in := range []*instance{c.ins[0], c.ins[2]} {
		if !hasRequestLine(in.logs.String(), http.MethodPost, "/token", http.StatusOK) {
			t.Errorf("%s answered no token request", in.name)
		}
	}

	// 2. Restarted on the same database, it joins again.
	back := startInstance(t, "instance 2 (restarted)", c.cfgPath)
	rt.setInstances(c.ins[0], c.ins[2], back)
	time.Sleep(3 * time.Second)
	l.stop()
	waitOrFail(t, wait, time.Minute, "the load goroutines did not stop")
	if !hasRequestLine(back.logs.String(), http.MethodPost, "/token", http.StatusOK) {
		t.Errorf("the restarted instance answered no token request in the 3 s after it started")
	}
	for _, p := range l.problems {
		t.Errorf("load: %s", p)
	}
	for _, p := range rt.problems() {
		t.Errorf("an instance answered: %s", p)
	}
	if rt.connErrs.Load() == 0 {
		t.Error("no request met the killed instance: the test did not test failover")
	}
	t.Logf("load: %d requests (%d in the 3 s after the kill), %d attempts failed on a connection error and were sent to another instance (%d of them cut off mid-request); "+
		"%d refreshes cut off by the kill succeeded when resent; %d codes whose redemption the kill cut off were refused when resent (the flow started over); "+
		"%d 503s; %d refresh chains, %d grants",
		l.tr.started.Load(), during, rt.connErrs.Load(), rt.cutOff.Load(), l.made.resentRefreshes.Load(), l.made.lostCodes.Load(),
		rt.unavailable.Load(), len(l.chains), l.made.grants.Load())

	// 3. Nothing lost, nothing used twice.
	checkChains(t, c.ins[0].url, l.chains, died)
	checkCodes(t, c.ins[2].url, l.codes, died)
	for _, in := range []*instance{c.ins[0], c.ins[2], back} {
		if bad := serverErrors(in); len(bad) > 0 {
			t.Errorf("%s answered with a server error:\n%s", in.name, strings.Join(bad, "\n"))
		}
	}
	checkConsistency(t, c.storage)
}
