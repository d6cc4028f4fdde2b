package cluster

// Real load on one instance: goroutines that use every grant at once and
// keep a ledger of what the clients actually received (refresh chains,
// codes), so a test can check after a kill -9 that all of it still holds,
// and of what they created, so a test can compare row counts with it.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// countingTransport counts the requests in flight, and remembers when
// each failed request started, so that the requests a kill cut off can be
// told from those sent to a process already gone.
type countingTransport struct {
	rt       http.RoundTripper
	started  atomic.Int64
	inflight atomic.Int64
	killing  atomic.Bool

	mu     sync.Mutex
	failed []time.Time // start times of requests that got no complete answer
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	c.started.Add(1)
	c.inflight.Add(1)
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		c.end(start, true)
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, c: c, start: start}
	return resp, nil
}

// end records that a request started at start is over.
func (c *countingTransport) end(start time.Time, failed bool) {
	c.inflight.Add(-1)
	if failed {
		c.mu.Lock()
		c.failed = append(c.failed, start)
		c.mu.Unlock()
	}
}

// markKill notes that the server is about to be killed and returns how
// many requests are in flight.
func (c *countingTransport) markKill() int64 {
	c.killing.Store(true)
	return c.inflight.Load()
}

// cutOff is how many requests started before the server died and never
// got a complete answer.
func (c *countingTransport) cutOff(died time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.failed {
		if s.Before(died) {
			n++
		}
	}
	return n
}

// countedBody ends its request when closed; a read error marks it failed.
type countedBody struct {
	io.ReadCloser
	c      *countingTransport
	start  time.Time
	failed bool
	once   sync.Once
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed = true
	}
	return n, err
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.c.end(b.start, b.failed) })
	return b.ReadCloser.Close()
}

// loadMix is how many goroutines of each kind a load runs.
type loadMix struct {
	clientCreds int // client credentials (JWT), revoked again when revoke is set
	opaque      int // client credentials with opaque tokens (a grant and a row each)
	passwords   int // password grants, each followed by a chain of refreshes
	codes       int // code flows in a new browser (login, consent), redeemed, refreshed twice
	failures    int // password guesses for new usernames (a throttle row each)
	refreshes   int // refreshes per password chain
	// chainClient is the password client whose chains the load refreshes;
	// app when unset.
	chainClient client
	revoke      bool
	// expiring: lifetimes are short, so an expired code or chain starts
	// over instead of counting as a problem.
	expiring bool
	// stopAt, when set, ends each goroutine after the request it is
	// sending then, rather than cutting requests off when ctx ends, so
	// that the server sees no client go away mid-request.
	stopAt time.Time
}

// chain is one refresh family as its client sees it: the last refresh
// token it received, and when a refresh of it was sent that got no answer
// (zero if none): the server may have rotated it.
type chain struct {
	client client
	latest string
	failed time.Time
}

// cutOff reports whether the last refresh was sent before died and got no
// answer.
func (ch *chain) cutOff(died time.Time) bool { return !ch.failed.IsZero() && ch.failed.Before(died) }

// codeRec is a code the client received, and whether it was redeemed.
type codeRec struct {
	grant    codeGrant
	redeemed bool      // tokens received for it
	failed   time.Time // when a redemption that got no answer was sent
}

// cutOff reports whether its redemption was sent before died and got no
// answer.
func (c *codeRec) cutOff(died time.Time) bool { return !c.failed.IsZero() && c.failed.Before(died) }

// created counts what the load made the server store.
type created struct {
	codes, grants, refreshTokens, accessTokens, revocations, sessions, failures atomic.Int64
	// lostCodes are codes whose redemption was cut off and refused when
	// resent (see codeLoop).
	lostCodes atomic.Int64
	// resentRefreshes are refreshes that succeeded when the retrier sent
	// them again after an attempt was cut off (refresh_grace at work).
	resentRefreshes atomic.Int64
}

// load runs a loadMix against one instance.
type load struct {
	mix          loadMix
	base, issuer string
	tr           *countingTransport
	hc           *http.Client
	made         created
	stopping     atomic.Bool // see stop

	mu       sync.Mutex
	chains   []*chain
	codes    []*codeRec
	problems []string
}

func newLoad(mix loadMix, base, issuer string) *load {
	return newLoadVia(mix, base, issuer, newTransport())
}

// newLoadVia is newLoad sending its requests through rt. A retrier there
// (helpers_fault_test.go) makes the load's clients retry, so a request
// fails only once the retrier gives up; the clients then wait as long.
func newLoadVia(mix loadMix, base, issuer string, rt http.RoundTripper) *load {
	if mix.chainClient == (client{}) {
		mix.chainClient = app
	}
	tr := &countingTransport{rt: rt}
	hc := newHTTPClient(tr)
	if _, ok := rt.(*retrier); ok {
		hc.Timeout = 0 // the retrier bounds each attempt and gives up itself
	}
	return &load{mix: mix, base: base, issuer: issuer, tr: tr, hc: hc}
}

// run starts the goroutines; they stop when ctx ends or the server dies.
// wait returns once they all have.
func (l *load) run(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	start := func(n int, fn func(context.Context)) {
		for range n {
			wg.Go(func() { fn(ctx) })
		}
	}
	start(l.mix.clientCreds, l.clientCredsLoop)
	start(l.mix.opaque, l.opaqueLoop)
	start(l.mix.passwords, l.passwordLoop)
	start(l.mix.codes, l.codeLoop)
	start(l.mix.failures, l.failureLoop)
	return wg.Wait
}

// going reports whether the goroutines should send another request.
func (l *load) going(ctx context.Context) bool {
	return ctx.Err() == nil && !l.stopping.Load() && (l.mix.stopAt.IsZero() || time.Now().Before(l.mix.stopAt))
}

// stop ends each goroutine after the request it is sending, as stopAt
// does, so that every answer the server sent reaches the ledger.
func (l *load) stop() { l.stopping.Store(true) }

// fine reports whether the request went through; otherwise it records a
// problem, unless the load is over or the server was killed on purpose.
func (l *load) fine(ctx context.Context, what string, r tokenResult, err error) bool {
	if err == nil && r.ok() {
		return true
	}
	if l.over(ctx) {
		return false
	}
	if err != nil {
		l.problem("%s: %v", what, err)
	} else {
		l.problem("%s: %s", what, r)
	}
	return false
}

// over reports whether a failure may be ignored because the load is over
// or the server was killed.
func (l *load) over(ctx context.Context) bool {
	return ctx.Err() != nil || l.tr.killing.Load()
}

func (l *load) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

func (l *load) clientCredsLoop(ctx context.Context) {
	for l.going(ctx) {
		r, err := clientCredentials(ctx, l.hc, l.base, svc)
		if !l.fine(ctx, "client credentials", r, err) {
			return
		}
		if !l.mix.revoke {
			continue
		}
		r, err = revoke(ctx, l.hc, l.base, svc, r.AccessToken)
		if !l.fine(ctx, "revoke", r, err) {
			return
		}
		l.made.revocations.Add(1)
	}
}

func (l *load) opaqueLoop(ctx context.Context) {
	for l.going(ctx) {
		r, err := clientCredentials(ctx, l.hc, l.base, opaque)
		if !l.fine(ctx, "client credentials (opaque)", r, err) {
			return
		}
		l.made.grants.Add(1)
		l.made.accessTokens.Add(1)
	}
}

func (l *load) failureLoop(ctx context.Context) {
	for l.going(ctx) {
		r, err := passwordGrant(ctx, l.hc, l.base, app, "nobody-"+randomString()[:12], "wrong")
		if err != nil || !r.invalidGrant() {
			if !l.over(ctx) {
				l.problem("a wrong password: %v %s, want invalid_grant", err, r)
			}
			return
		}
		l.made.failures.Add(1)
	}
}

func (l *load) passwordLoop(ctx context.Context) {
	for l.going(ctx) {
		c := l.mix.chainClient
		r, err := passwordGrant(ctx, l.hc, l.base, c, "alice", alicePass)
		if !l.fine(ctx, "password grant", r, err) {
			return
		}
		l.made.grants.Add(1)
		if !l.refreshChain(ctx, l.addChain(c, r.RefreshToken), l.mix.refreshes) {
			return
		}
	}
}

// addChain records a new refresh family.
func (l *load) addChain(c client, rt string) *chain {
	l.made.refreshTokens.Add(1)
	ch := &chain{client: c, latest: rt}
	l.mu.Lock()
	l.chains = append(l.chains, ch)
	l.mu.Unlock()
	return ch
}

// refreshChain refreshes ch n times; it reports false when the load must
// stop. With short lifetimes, a chain that expired just ends.
func (l *load) refreshChain(ctx context.Context, ch *chain, n int) bool {
	for range n {
		sent := time.Now()
		r, err := refresh(ctx, l.hc, l.base, ch.client, ch.latest)
		if err != nil {
			ch.failed = sent
		}
		if err == nil && l.mix.expiring && r.invalidGrant() {
			return true
		}
		if !l.fine(ctx, "refresh", r, err) {
			return false
		}
		ch.latest = r.RefreshToken
		l.made.refreshTokens.Add(1)
		if r.Resent {
			l.made.resentRefreshes.Add(1)
		}
	}
	return true
}

func (l *load) codeLoop(ctx context.Context) {
	for l.going(ctx) {
		b := newBrowser(l.tr, l.issuer)
		b.hc.Timeout = l.hc.Timeout
		g, err := b.authorize(ctx, via(l.base), "alice", alicePass)
		if err != nil {
			if !l.over(ctx) {
				l.problem("code flow: %v", err)
			}
			return
		}
		l.made.sessions.Add(1)
		l.made.codes.Add(1)
		rec := &codeRec{grant: g}
		l.mu.Lock()
		l.codes = append(l.codes, rec)
		l.mu.Unlock()
		sent := time.Now()
		r, err := redeem(ctx, l.hc, l.base, g)
		if err != nil {
			rec.failed = sent
		}
		if err == nil && l.mix.expiring && r.invalidGrant() {
			continue
		}
		if err == nil && r.Resent && r.invalidGrant() {
			// The retrier sent the redemption again after an attempt was
			// cut off mid-request: the instance that died may have
			// redeemed the code, and a code works once (RFC 6749 §4.1.2).
			// The client starts over, as one would.
			rec.failed = sent
			l.made.lostCodes.Add(1)
			continue
		}
		if !l.fine(ctx, "redeem", r, err) {
			return
		}
		rec.redeemed = true
		l.made.grants.Add(1)
		if !l.refreshChain(ctx, l.addChain(web, r.RefreshToken), 2) {
			return
		}
	}
}
