package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// directApp is the application_name of the instances' direct connections,
// by which the test finds their LISTEN sessions on PostgreSQL.
const directApp = "latchkey-direct"

// TestSeveralInstancesThroughPgBouncer runs three instances whose storage
// is a PgBouncer in transaction pooling mode and whose database.direct_url
// is PostgreSQL itself, on one empty schema: they behave as one server as
// they do on PostgreSQL alone, their queries really go through PgBouncer,
// and they listen for changes on the direct connection.
func TestSeveralInstancesThroughPgBouncer(t *testing.T) {
	bn := pgtest.StartBouncer(t, 1)
	e := bn.Next(t)
	lb := startBalancer(t)
	cfg := baseConfig(e.Pooled, lb.url)
	cfg.Database.DirectURL = config.Secret(pgtest.WithParam(e.Direct, "application_name", directApp))
	cfg.Database.QueryTimeout = config.Duration(10 * time.Second)
	path := writeConfig(t, cfg)
	ins := startInstances(t, path, "instance 1", "instance 2", "instance 3")
	lb.add(ins...)
	c := &cluster{lb: lb, ins: ins, cfgPath: path}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgbouncer's log:\n%s", tail(bn.Log(), 30))
		}
	})
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *cluster)
	}{
		{"the instances' queries go through PgBouncer", func(t *testing.T, c *cluster) { testThroughBouncer(t, c, bn, e) }},
		{"each instance listens for changes on the direct connection", func(t *testing.T, c *cluster) { testListenDirect(t, c, e) }},
		{"instances starting together migrate the schema once", testMigrateOnce},
		{"a code flow hops between instances", testCodeFlowHops},
		{"a revocation on one instance is seen by the others", testRevocationEverywhere},
		{"the password guessing limit is shared", testSharedGuessingLimit},
		{"keys staged by latchkey keys rotate appear on every instance", testKeysPropagate},
		{"load through the balancer fails no request", func(t *testing.T, c *cluster) { testBouncerLoad(t, c, bn, e) }},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) })
	}
}

// testThroughBouncer checks that the storage URL reaches PgBouncer, so the
// test cannot pass by going around it: PgBouncer logged the instances'
// logins to the entry, and counts the transactions of a token request.
// (The entry's name is no database on PostgreSQL: only PgBouncer knows it.)
func testThroughBouncer(t *testing.T, c *cluster, bn *pgtest.Bouncer, e pgtest.BouncerEntry) {
	if n := strings.Count(bn.Log(), "login attempt: db="+e.Alias); n < len(c.ins) {
		t.Errorf("pgbouncer logged %d logins to %s, want at least one per instance (%d)", n, e.Alias, len(c.ins))
	}
	ctx := context.Background()
	before := bouncerStats(t, bn, e.Alias)
	hc := newHTTPClient(nil)
	for _, in := range c.ins {
		r, err := clientCredentials(ctx, hc, in.url, opaque) // stores an opaque token
		mustOK(t, "client credentials (opaque) on "+in.name, r, err)
	}
	waitXacts(t, bn, e.Alias, before.Transactions+int64(len(c.ins)))
}

// testListenDirect finds each instance's LISTEN session on PostgreSQL
// among the connections of database.direct_url (its application_name):
// were LISTEN sent through transaction pooling, it would hold no session
// and hear nothing. That it hears is testRevocationEverywhere's part: with
// database.cache_ttl a minute, another instance drops a revoked token
// within 2 s only if the revocation was announced.
func testListenDirect(t *testing.T, c *cluster, e pgtest.BouncerEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.Direct)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// The instances start listening beside serving: give them a moment.
	var listening int
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND query LIKE 'LISTEN %'`, directApp).Scan(&listening)
		if err != nil {
			t.Fatal(err)
		}
		if listening == len(c.ins) || time.Since(start) > 5*time.Second {
			break
		}
	}
	if listening != len(c.ins) {
		t.Errorf("%d sessions of database.direct_url LISTEN, want one per instance (%d)", listening, len(c.ins))
	}
}

// testBouncerLoad runs client credentials with opaque tokens (a grant and
// a token row each) and password grants with refresh chains through the
// balancer for 3 s, each goroutine finishing its last request: not one
// request may fail, and no instance may answer
// 5xx. PgBouncer pools every instance's connections onto two server
// connections (default_pool_size), and counts the transactions.
func testBouncerLoad(t *testing.T, c *cluster, bn *pgtest.Bouncer, e pgtest.BouncerEntry) {
	before := bouncerStats(t, bn, e.Alias)
	l := newLoad(loadMix{opaque: 4, passwords: 2, refreshes: 3, stopAt: time.Now().Add(3 * time.Second)}, c.lb.url, c.lb.url)
	waitOrFail(t, l.run(context.Background()), 60*time.Second, "the load did not stop within 60 s of its end")
	for _, p := range l.problems {
		t.Error(p)
	}
	for _, in := range c.ins {
		for _, line := range statusAtLeast(in, 500) {
			t.Errorf("%s answered 5xx: %s", in.name, line)
		}
	}
	requests := l.tr.started.Load()
	made := l.made.accessTokens.Load() + l.made.refreshTokens.Load()
	if made < 50 {
		t.Errorf("the load made %d tokens in 3 s, want at least 50 for a load", made)
	}
	// Every token made is at least one transaction through PgBouncer.
	after := waitXacts(t, bn, e.Alias, before.Transactions+made)
	t.Logf("%d requests through the balancer, %d opaque tokens and %d refresh tokens made; PgBouncer pooled %d transactions",
		requests, l.made.accessTokens.Load(), l.made.refreshTokens.Load(), after.Transactions-before.Transactions)
}

// bouncerStats returns PgBouncer's counters for alias or fails t.
func bouncerStats(t *testing.T, bn *pgtest.Bouncer, alias string) pgtest.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := bn.Stats(ctx, alias)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitXacts waits up to 5 s (PgBouncer updates its counters each second)
// for alias's transaction count to reach want, and fails t otherwise.
func waitXacts(t *testing.T, bn *pgtest.Bouncer, alias string, want int64) pgtest.Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := bouncerStats(t, bn, alias)
		if s.Transactions >= want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("PgBouncer counts %d transactions for %s, want at least %d: the instances' queries did not go through it",
				s.Transactions, alias, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// statusAtLeast returns in's request log lines with a status of least or more.
func statusAtLeast(in *instance, least int) []string {
	var bad []string
	sc := bufio.NewScanner(strings.NewReader(in.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg    string
			Status int
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "request" && rec.Status >= least {
			bad = append(bad, sc.Text())
		}
	}
	return bad
}
