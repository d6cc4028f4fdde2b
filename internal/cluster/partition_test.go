package cluster

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// partitionFor is how long the network between Latchkey and PostgreSQL
// stays cut.
const partitionFor = 30 * time.Second

// TestPostgresPartition cuts the network between a Latchkey instance under
// load and PostgreSQL for 30 seconds: connections hang rather than reset,
// as in a real partition, and PostgreSQL ends the instance's sessions
// (pg_terminate_backend) meanwhile. Every request that needs the database
// answers 503 temporarily_unavailable with Retry-After within
// database.query_timeout (it does not hang for the partition, and never
// answers 500), and /readyz answers 503. Once the network is back, the
// instance serves again without a restart; the clients, which retry a 503
// as Retry-After says, all succeed; and nothing was used twice or lost:
// every refresh chain's last token refreshes exactly once, every code
// redeems once at most.
func TestPostgresPartition(t *testing.T) {
	direct := pgtest.DSN(t)
	pc, err := pgx.ParseConfig(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startPartitionProxy(t, net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))))
	u, err := url.Parse(direct)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		t.Fatalf("the test database's DSN must be a postgres:// URL to route it through a proxy (%v)", err)
	}
	u.Host = proxy.addr
	appName := "latchkey-partition-" + randomString()[:8]
	const queryTimeout = 2 * time.Second
	cfg := singleConfig(t, pgtest.WithParam(u.String(), "application_name", appName))
	cfg.Database.ConnectTimeout = config.Duration(queryTimeout)
	cfg.Database.QueryTimeout = config.Duration(queryTimeout)
	in := startInstance(t, "latchkey", writeConfig(t, cfg))
	ctx := context.Background()
	hc := newHTTPClient(nil)

	// 1. What the clients hold, and load from clients that retry a 503.
	held, codes := holdTokens(t, in.url, 6, 2)
	rt := newRetrier(2*time.Minute, 15*time.Second)
	l := newLoadVia(loadMix{clientCreds: 1, opaque: 1, passwords: 2, codes: 1, refreshes: 5}, in.url, in.url, rt)
	wait := l.run(ctx)
	time.Sleep(2 * time.Second)

	// 2. The partition, and PostgreSQL ending the sessions it can no
	// longer reach.
	proxy.partition()
	cut := time.Now()
	terminated := terminateBackends(t, direct, appName)
	t.Logf("partition: %d of the instance's sessions ended by pg_terminate_backend", terminated)
	waitStatus(t, in.url+"/readyz", http.StatusServiceUnavailable, 2*queryTimeout+time.Second)

	// Requests that need the database, sent again and again: each answers
	// 503 within the query timeout and changes nothing.
	writes := map[string]func() (tokenResult, error){
		"refresh":         func() (tokenResult, error) { return refresh(ctx, hc, in.url, app, held[0].RefreshToken) },
		"password grant":  func() (tokenResult, error) { return passwordGrant(ctx, hc, in.url, app, "alice", alicePass) },
		"code redemption": func() (tokenResult, error) { return redeem(ctx, hc, in.url, codes[0]) },
		"revocation":      func() (tokenResult, error) { return revoke(ctx, hc, in.url, app, held[1].RefreshToken) },
		"client credentials (opaque)": func() (tokenResult, error) {
			return clientCredentials(ctx, hc, in.url, opaque)
		},
	}
	var mu sync.Mutex
	var probes int
	var slowest time.Duration
	for time.Since(cut) < partitionFor-2*queryTimeout {
		var wg sync.WaitGroup
		for what, send := range writes {
			wg.Go(func() {
				start := time.Now()
				r, err := send()
				took := time.Since(start)
				if err != nil || !r.is(http.StatusServiceUnavailable, "temporarily_unavailable") || r.RetryAfter == "" {
					t.Errorf("%s during the partition: %v %s (Retry-After %q), want 503 temporarily_unavailable with Retry-After",
						what, err, r, r.RetryAfter)
				}
				mu.Lock()
				probes++
				slowest = max(slowest, took)
				mu.Unlock()
			})
		}
		wg.Go(func() {
			resp, err := hc.Get(in.url + "/readyz")
			if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("/readyz during the partition: %v %s, want 503", err, statusOf(resp))
			}
			if resp != nil {
				resp.Body.Close()
			}
		})
		wg.Wait()
		time.Sleep(500 * time.Millisecond)
	}
	// Each of these requests makes one store call that meets the partition
	// (the client is cached), bounded by the query timeout; two seconds
	// of slack for a busy machine (CI runs packages side by side).
	if limit := queryTimeout + 2*time.Second; slowest > limit {
		t.Errorf("the slowest 503 during the partition took %s, want at most %s (database.query_timeout %s)",
			slowest.Round(time.Millisecond), limit, queryTimeout)
	}
	t.Logf("during the partition: %d requests that need the database answered 503, the slowest in %s (query_timeout %s)",
		probes, slowest.Round(time.Millisecond), queryTimeout)
	if d := partitionFor - time.Since(cut); d > 0 {
		time.Sleep(d)
	}

	// 3. The network is back: service resumes by itself.
	proxy.heal()
	healed := time.Now()
	t.Logf("the partition lasted %s", healed.Sub(cut).Round(time.Millisecond))
	refreshWhenBack(t, in.url, &held[0], "after the partition")
	recovered := time.Since(healed)
	ready := waitStatus(t, in.url+"/readyz", http.StatusOK, 10*time.Second)
	t.Logf("after the partition: a refresh succeeds again %s after the network returned; /readyz 200 %s after that",
		recovered.Round(time.Millisecond), ready.Round(time.Millisecond))
	time.Sleep(time.Second) // the load carries on
	l.stop()
	waitOrFail(t, wait, 2*time.Minute, "the load goroutines did not stop")
	for _, p := range l.problems {
		t.Errorf("load: %s", p)
	}
	for _, p := range rt.problems() {
		t.Errorf("the server answered the load: %s", p)
	}
	if s := rt.slowest; s > queryTimeout+2*time.Second {
		t.Errorf("the slowest 503 the load got took %s, want at most %s", s.Round(time.Millisecond), queryTimeout+2*time.Second)
	}
	t.Logf("load: %d requests, %d attempts answered 503 and sent again after Retry-After (the slowest 503 in %s); %d refresh chains, %d grants",
		l.tr.started.Load(), rt.unavailable.Load(), rt.slowest.Round(time.Millisecond), len(l.chains), l.made.grants.Load())
	if rt.unavailable.Load() == 0 {
		t.Error("no request of the load was answered 503 during the partition")
	}

	// 4. Nothing lost, nothing used twice.
	checkChains(t, in.url, append(heldChains(held), l.chains...), time.Time{})
	var recs []*codeRec
	for _, g := range codes {
		recs = append(recs, &codeRec{grant: g})
	}
	checkCodes(t, in.url, append(recs, l.codes...), time.Time{})
	if bad := serverErrors(in); len(bad) > 0 {
		t.Errorf("requests answered with a server error other than 503:\n%s", strings.Join(bad, "\n"))
	}
	checkConsistency(t, direct)
}

// terminateBackends ends, through a connection of its own, every session
// of PostgreSQL whose application_name is appName, and returns how many.
func terminateBackends(t *testing.T, dsn, appName string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
