package cluster

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// TestCleanupKeepsTablesFlat runs load with short lifetimes and the
// collector every 200ms, counting the rows of every growing table each
// second: no table ever holds more than what was created within its
// rows' lifetime (plus a little slack), and at the end each holds far less
// than the load created. Then, with the server stopped and everything
// expired, latchkey gc removes the rest.
func TestCleanupKeepsTablesFlat(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		cleanupKeepsTablesFlat(t, "sqlite://"+filepath.Join(t.TempDir(), "latchkey.db"), 9*time.Second)
	})
	t.Run("postgres", func(t *testing.T) {
		cleanupKeepsTablesFlat(t, pgtest.DSN(t), 7*time.Second)
	})
}

// shortLived makes everything expire within 3 seconds of its creation and
// collects expired rows every 200ms.
func shortLived(c *config.Config) {
	c.Tokens.AccessTokenTTL = config.Duration(time.Second)
	c.Tokens.IDTokenTTL = config.Duration(time.Second)
	c.Tokens.RefreshTokenTTL = config.Duration(2 * time.Second)
	c.Tokens.RefreshTokenAbsoluteTTL = config.Duration(3 * time.Second)
	c.Tokens.CodeTTL = config.Duration(2 * time.Second)
	c.Tokens.SessionTTL = config.Duration(2 * time.Second)
	c.Limits.Window = config.Duration(time.Second)
	c.GC.Interval = config.Duration(200 * time.Millisecond)
}

// lifetimes is how long a row of each table lives under shortLived before
// the collector may remove it. A grant lives as long as its refresh chain
// may (the absolute lifetime); the load's chains end well within it.
var lifetimes = map[string]time.Duration{
	"auth_codes": 2 * time.Second, "sessions": 2 * time.Second, "refresh_tokens": 2 * time.Second,
	"access_tokens": time.Second, "revoked_jtis": time.Second, "throttles": time.Second,
	"grants": 3 * time.Second,
}

// gcSlack is how late a row may be collected: the collector's interval and
// scheduling on a busy machine.
const gcSlack = 1500 * time.Millisecond

// sample is the row counts at one moment, and how many rows of each table
// the load had created by then.
type sample struct{ rows, made map[string]int }

func cleanupKeepsTablesFlat(t *testing.T, storage string, loadFor time.Duration) {
	cfg := singleConfig(t, storage)
	shortLived(&cfg)
	path := writeConfig(t, cfg)
	in := startInstance(t, "latchkey", path)
	db := openReadOnly(t, storage)

	// 1. Load, sampling the row counts every second.
	l := newLoad(loadMix{clientCreds: 1, revoke: true, opaque: 1, passwords: 2, refreshes: 5, codes: 2, failures: 1, expiring: true},
		in.url, in.url)
	samples := loadAndSample(t, l, db, path, loadFor)
	for _, p := range l.problems {
		t.Errorf("during the load: %s", p)
	}
	if n := strings.Count(in.logs.String(), "garbage collection failed"); n > 0 {
		t.Errorf("the collector failed %d times:\n%s", n, tail(in.logs.String(), 20))
	}

	// 2. Each table holds only a lifetime's worth of rows.
	t.Logf("%d requests in %s", l.tr.started.Load(), loadFor)
	for _, tb := range tables {
		checkFlat(t, tb, samples)
	}

	// 3. Stopped, and once everything has expired, latchkey gc removes
	// what the collector had no time to.
	in.stop(t)
	time.Sleep(lifetimes["grants"] + 200*time.Millisecond)
	out := latchkeyCLI(t, path, "gc")
	m := regexp.MustCompile(`removed (\d+) expired rows`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("latchkey gc printed %q, want \"removed N expired rows\"", out)
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Errorf("latchkey gc removed no rows, with the server stopped and everything expired")
	}
	counts, err := countRows(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("latchkey gc: %s; rows left: %v", strings.TrimSpace(out), counts)
	for tb, n := range counts {
		if n != 0 {
			t.Errorf("%s still holds %d rows after latchkey gc, with everything expired", tb, n)
		}
	}
}

// loadAndSample runs l for loadFor, counting the rows every second; after
// the third count it runs latchkey gc once beside the server, as cron
// would, and checks that it succeeds.
func loadAndSample(t *testing.T, l *load, db *sql.DB, cfgPath string, loadFor time.Duration) []sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), loadFor)
	defer cancel()
	wait := l.run(ctx)
	var samples []sample
	cronGC := make(chan string, 1)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			made := l.made.byTable() // first: every row counted as made is stored by now
			rows, err := countRows(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			samples = append(samples, sample{rows: rows, made: made})
			if len(samples) == 3 {
				go func() {
					out, stderr, err := runLatchkey(t, cfgPath, "gc")
					cronGC <- fmt.Sprintf("%v: %s%s", err, out, stderr)
				}()
			}
		}
	}
	waitOrFail(t, wait, 20*time.Second, "the load goroutines did not stop")
	if len(samples) >= 3 {
		if res := <-cronGC; !strings.HasPrefix(res, "<nil>: removed") {
			t.Errorf("latchkey gc beside the running server: %s", res)
		}
	}
	return samples
}

// byTable is what the load created, by the table it lands in.
func (c *created) byTable() map[string]int {
	return map[string]int{
		"auth_codes": int(c.codes.Load()), "grants": int(c.grants.Load()), "refresh_tokens": int(c.refreshTokens.Load()),
		"access_tokens": int(c.accessTokens.Load()), "revoked_jtis": int(c.revocations.Load()),
		"sessions": int(c.sessions.Load()), "throttles": int(c.failures.Load()),
	}
}

// checkFlat fails the test unless a table stays flat: at every sample it
// holds at most the rows created within the lifetime of its rows plus
// gcSlack (and a few the load had not counted yet), and at the end at
// most half of all it was given. Without the collector it would hold
// everything ever created.
func checkFlat(t *testing.T, table string, samples []sample) {
	t.Helper()
	rows := make([]int, len(samples))
	for i, s := range samples {
		rows[i] = s.rows[table]
	}
	total := samples[len(samples)-1].made[table]
	t.Logf("%-14s rows each second %v; %d created", table, rows, total)
	if len(samples) < 6 {
		t.Fatalf("only %d samples", len(samples))
	}
	if total < 30 {
		t.Fatalf("the load created only %d %s rows: too few to tell", total, table)
	}
	const uncounted = 10 // stored, but the client had not counted its answer yet
	back := int(math.Ceil((lifetimes[table] + gcSlack).Seconds()))
	for i := back; i < len(samples); i++ {
		recent := samples[i].made[table] - samples[i-back].made[table]
		if rows[i] > recent+uncounted {
			t.Errorf("%s: %d rows after %d s, but only %d were created in the %d s before: expired rows are not removed",
				table, rows[i], i+1, recent, back)
		}
	}
	if last := rows[len(rows)-1]; last*2 > total {
		t.Errorf("%s holds %d rows at the end, more than half the %d created", table, last, total)
	}
}
