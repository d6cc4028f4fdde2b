package cluster

// A rolling upgrade, as docs/upgrading.md describes it: instances of the
// previous release (the commit in upgrade/BASELINE, built from git
// history) serve under load while the current build starts on the same
// database, migrates it, joins them behind the balancer and takes over as
// they drain.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
)

// baselineFile holds the commit of the previous release.
const (
	baselineFile = "../../upgrade/BASELINE"
	baselineName = "upgrade/BASELINE"
)

// TestRollingUpgrade runs two instances of the previous release R on a
// fresh PostgreSQL schema under continuous load (client credentials with
// JWT and opaque tokens, password grants each followed by a chain of
// refresh token rotations), checks R+1's latchkey migrate --check, starts
// one instance of R+1 (the current build) on the same database, which
// applies its migrations while R serves, adds it to the balancer, takes R
// out of it, waits until no request to R is in flight, and stops R with
// SIGTERM. It checks that:
//
//   - every request of the load, at every step, got a 200;
//   - both releases served side by side, and R+1 alone at the end;
//   - refresh tokens that one release issued rotated on the other, both
//     ways;
//   - R's instances exited 0 after SIGTERM;
//   - every access token that R issued introspects active on R+1;
//   - every refresh token the load received and did not spend (the last
//     of each chain) rotates exactly once on R+1: 200, then invalid_grant;
//     and in each chain, one the load rotated is refused on R+1.
func TestRollingUpgrade(t *testing.T) {
	start := time.Now()
	dsn := pgtest.DSN(t)
	old := buildBaseline(t)
	current := binary.Path(t)
	t.Logf("built R (%s) and R+1 in %v", filepath.Base(filepath.Dir(old)), time.Since(start).Round(time.Millisecond))

	lb := startBalancer(t)
	cfgPath := writeUpgradeConfig(t, dsn, lb.url)
	var r [2]*instance
	var errs [2]error
	var wg sync.WaitGroup
	for i := range r {
		wg.Go(func() { r[i], errs[i] = launch(t, old, fmt.Sprintf("R instance %d", i+1), cfgPath) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	lb.add(r[:]...)

	ld := newUpgradeLoad(lb.url)
	wait := ld.run(3, 1, 3)
	defer func() { ld.stop.Store(true); wait() }()
	time.Sleep(2 * time.Second)

	ld.setPhase("R+1's migrate --check")
	out, stderr, err := runLatchkeyBin(t, current, cfgPath, "migrate", "--check")
	if err != nil || strings.Contains(out, "NOT safe") {
		t.Fatalf("R+1's latchkey migrate --check on R's database: %v\n%s%s\nwant every pending migration safe while R serves", err, out, stderr)
	}
	t.Logf("R+1's latchkey migrate --check on R's database:\n%s", out)
	var pending []string
	for _, m := range regexp.MustCompile(`(?m)^would apply (\S+):`).FindAllStringSubmatch(out, -1) {
		pending = append(pending, m[1])
	}

	ld.setPhase("R+1 starting and migrating")
	began := time.Now()
	next, err := launch(t, current, "R+1", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	applied := appliedMigrations(next.logs.String())
	t.Logf("R+1 applied %v and was healthy %v after it started, while R served", applied, time.Since(began).Round(time.Millisecond))
	if !slices.Equal(applied, pending) {
		t.Errorf("R+1 applied %v, migrate --check said it would apply %v", applied, pending)
	}
	if len(applied) == 0 {
		// Right after BASELINE moves to the latest release: the upgrade
		// swaps binaries only, until the next migration is written.
		t.Logf("no migration between R (%s) and R+1", baselineName)
	} else {
		// The running instances of R serve on; a new one refuses the
		// database (docs/upgrading.md, rolling back).
		_, stderr, err := runLatchkeyBin(t, old, cfgPath, "migrate")
		if err == nil || !strings.Contains(stderr, "unknown to this binary: run a newer latchkey") {
			t.Errorf("R's latchkey migrate after R+1 migrated: %v\n%s\nwant it to refuse the database", err, stderr)
		}
	}

	ld.setPhase("R and R+1")
	lb.add(next)
	time.Sleep(3 * time.Second)

	// Out of the balancer, and no request of its still on the way to R,
	// before SIGTERM: a graceful shutdown closes idle keep-alive
	// connections at once, so a request the balancer was just writing on
	// one would fail (a 502, once in 8 runs when SIGTERM followed the
	// removal at once).
	ld.setPhase("draining R")
	lb.remove(r[:]...)
	lb.drain(t, r[:]...)
	for _, in := range r {
		wg.Go(func() { in.stop(t) })
	}
	wg.Wait()
	for _, in := range r {
		if code := in.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited %d after SIGTERM, want 0:\n%s", in.name, code, tail(in.logs.String(), 20))
		}
	}

	ld.setPhase("R+1 alone")
	time.Sleep(2 * time.Second)
	ld.stop.Store(true)
	wait()

	ld.mu.Lock()
	defer ld.mu.Unlock()
	t.Logf("load: %d requests, %s", ld.requests.Load(), ld.servedSummary(r, next))
	if ld.failed > 0 {
		t.Errorf("%d of %d requests of the load failed; the first ones:\n%s", ld.failed, ld.requests.Load(), strings.Join(ld.failures, "\n"))
	}
	for _, in := range append(r[:], next) {
		if bad := serverErrors(in); len(bad) > 0 {
			t.Errorf("%s logged %d requests with a 5xx status:\n%s", in.name, len(bad), strings.Join(bad[:min(len(bad), 5)], "\n"))
		}
	}
	for _, want := range []struct {
		phase   string
		backend *instance
	}{
		{"R and R+1", r[0]}, {"R and R+1", r[1]}, {"R and R+1", next},
		{"R+1 starting and migrating", r[0]}, {"R+1 alone", next},
	} {
		if ld.served[want.phase][want.backend.url] == 0 {
			t.Errorf("%s served no request while %q: the load did not cover that step", want.backend.name, want.phase)
		}
	}

	// Refresh chains crossed releases both ways while they served together.
	toNext := ld.hops[[2]string{r[0].url, next.url}] + ld.hops[[2]string{r[1].url, next.url}]
	toR := ld.hops[[2]string{next.url, r[0].url}] + ld.hops[[2]string{next.url, r[1].url}]
	if toNext == 0 || toR == 0 {
		t.Errorf("refreshes across releases: %d of R's tokens rotated by R+1, %d of R+1's by R; want some each way", toNext, toR)
	}
	t.Logf("refreshes across releases: %d of R's tokens rotated by R+1, %d of R+1's by R", toNext, toR)

	// What R issued, used on R+1.
	fromR := func(tok issued) bool { return tok.backend == r[0].url || tok.backend == r[1].url }
	var access []issued
	for _, tok := range ld.access {
		if fromR(tok) {
			access = append(access, tok)
		}
	}
	if len(access) == 0 {
		t.Fatal("R issued no access token that the load kept")
	}
	hc := newHTTPClient(nil)
	var inactive atomic.Int64
	var firstInactive atomic.Value
	parallel(len(access), func(i int) {
		res, err := introspect(context.Background(), hc, next.url, access[i].tok)
		if err != nil || !res.ok() || !res.Active {
			inactive.Add(1)
			firstInactive.CompareAndSwap(nil, fmt.Sprintf("%s's %s token: %v %s", access[i].backend, access[i].what, err, res))
		}
	})
	if n := inactive.Load(); n > 0 {
		t.Errorf("%d of %d access tokens issued by R are not active on R+1; the first: %s", n, len(access), firstInactive.Load())
	}

	// Each chain, on R+1: its last refresh token rotates (200); one it
	// spent earlier is refused (invalid_grant, while the family is still
	// live, so because it was spent); the last one a second time is too.
	fromROnes, checkedSpent := 0, 0
	for _, ch := range ld.chains {
		if fromR(ch.latest) {
			fromROnes++
		}
		if len(ch.spent) > 0 {
			checkedSpent++
		}
	}
	if fromROnes == 0 {
		t.Error("no unspent refresh token issued by R: the load's chains did not cover the upgrade")
	}
	var lost, reused, spentAgain atomic.Int64
	var firstLost, firstReused, firstSpent atomic.Value
	parallel(len(ld.chains), func(i int) {
		ch := ld.chains[i]
		res, err := refresh(context.Background(), hc, next.url, app, ch.latest.tok)
		if err != nil || !res.ok() || res.RefreshToken == "" {
			lost.Add(1)
			firstLost.CompareAndSwap(nil, fmt.Sprintf("issued by %s: %v %s", ch.latest.backend, err, res))
			return
		}
		if len(ch.spent) > 0 {
			old := ch.spent[i%len(ch.spent)]
			res, err := refresh(context.Background(), hc, next.url, app, old.tok)
			if err != nil || !res.invalidGrant() {
				spentAgain.Add(1)
				firstSpent.CompareAndSwap(nil, fmt.Sprintf("issued by %s: %v %s", old.backend, err, res))
			}
		}
		res, err = refresh(context.Background(), hc, next.url, app, ch.latest.tok)
		if err != nil || !res.invalidGrant() {
			reused.Add(1)
			firstReused.CompareAndSwap(nil, fmt.Sprintf("issued by %s: %v %s", ch.latest.backend, err, res))
		}
	})
	if n := lost.Load(); n > 0 {
		t.Errorf("%d of %d unspent refresh tokens do not rotate on R+1 (lost); the first: %s", n, len(ld.chains), firstLost.Load())
	}
	if n := spentAgain.Load(); n > 0 {
		t.Errorf("%d of %d refresh tokens the load had rotated were not refused on R+1, want 400 invalid_grant; the first: %s", n, checkedSpent, firstSpent.Load())
	}
	if n := reused.Load(); n > 0 {
		t.Errorf("%d of %d refresh tokens rotated twice on R+1, want 400 invalid_grant the second time; the first: %s", n, len(ld.chains), firstReused.Load())
	}
	t.Logf("on R+1: %d access tokens of R introspected active; of %d chains, the last refresh token (%d of them from R) rotated once and was refused the second time, and %d refused one they had spent; %v in all",
		len(access), len(ld.chains), fromROnes, checkedSpent, time.Since(start).Round(time.Millisecond))
}

// unavailable skips t for want of what the test needs, or fails it under
// CI=true, where a missing piece is a broken pipeline.
func unavailable(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// buildBaseline builds latchkey at the commit named in upgrade/BASELINE,
// exported from the repository's history (git archive) into a temporary
// directory, and returns the path of the program. The build shares the
// module and build caches of the current one, so only the packages that
// differ compile again.
func buildBaseline(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(baselineFile)
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(string(b))
	if !commitRE.MatchString(commit) {
		t.Fatalf("%s holds %q, want a full 40-hex commit", baselineName, commit)
	}
	if _, err := exec.LookPath("git"); err != nil {
		unavailable(t, "git is not installed: the rolling upgrade test builds "+baselineName+" from history")
	}
	if err := exec.Command("git", "cat-file", "-e", commit+"^{commit}").Run(); err != nil {
		msg := "commit " + commit[:12] + " (" + baselineName + ") is not in this clone"
		if out, _ := exec.Command("git", "rev-parse", "--is-shallow-repository").Output(); strings.TrimSpace(string(out)) == "true" {
			msg += ": it is shallow; git fetch --unshallow"
		} else if _, err := exec.Command("git", "rev-parse", "--git-dir").Output(); err != nil {
			msg += ": not a git checkout"
		}
		unavailable(t, msg)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse --show-toplevel: %v", err)
	}
	// From the top: in a subdirectory, git archive exports only that.
	archive := exec.Command("git", "archive", "--format=tar", commit)
	archive.Dir = strings.TrimSpace(string(top))
	extract := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	extract.Stdin = pipe
	var archErr, extErr strings.Builder
	archive.Stderr, extract.Stderr = &archErr, &extErr
	if err := extract.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", commit, err, archErr.String())
	}
	if err := extract.Wait(); err != nil {
		t.Fatalf("tar -x of git archive %s: %v\n%s", commit, err, extErr.String())
	}
	bin := filepath.Join(dir, commit[:12], "latchkey")
	build := exec.Command("go", "build", "-o", bin, "./cmd/latchkey")
	build.Dir = src
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/latchkey at %s: %v\n%s", commit, err, out)
	}
	return bin
}

// writeUpgradeConfig writes a configuration that R accepts, written by
// hand rather than from this build's config.Config, which may hold keys R
// does not know: the operator's file of R is what R+1 starts with.
func writeUpgradeConfig(t *testing.T, storage, issuer string) string {
	t.Helper()
	yaml := fmt.Sprintf(`issuer: %q
listen: 127.0.0.1:0
storage: %q
secrets:
  system: %q
log: {level: info, format: json}
keys: {reload_interval: 200ms}
database: {cache_ttl: 1m}
passwords: {memory_kib: 8192, iterations: 1, parallelism: 1}
limits: {per_client: 100000, per_ip: 100000}
clients:
  - {id: svc, secret: %q, grant_types: [client_credentials], scopes: [read, write]}
  - {id: opaque, secret: %q, grant_types: [client_credentials], scopes: [read], access_token_format: opaque}
  - {id: rs, secret: %q, grant_types: [client_credentials], scopes: [read], introspection: true}
  - {id: app, secret: %q, grant_types: [password, refresh_token], scopes: [read]}
users:
  - {username: alice, password: %q, claims: {name: Alice}}
`, issuer, storage, systemSecret, svc.secret, opaque.secret, rs.secret, app.secret, alicePass)
	path := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runLatchkeyBin runs "bin args... --config cfgPath" to its end.
func runLatchkeyBin(t *testing.T, bin, cfgPath string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--config", cfgPath)...)
	cmd.Env = childEnv(cfgPath)
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	err = cmd.Run()
	return out.String(), errs.String(), err
}

// appliedMigrations lists the "applied migration" log lines' names.
func appliedMigrations(logs string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`"msg":"applied migration","name":"([^"]+)"`).FindAllStringSubmatch(logs, -1) {
		names = append(names, m[1])
	}
	return names
}

// issued is a token the load received, and the instance that issued it.
type issued struct{ tok, backend, what string }

// refreshChain is one refresh family as the load left it: the tokens it
// rotated, once each, and the last one, unspent.
type refreshChain struct {
	spent  []issued
	latest issued
}

// upgradeLoad sends requests through the balancer until stopped, never
// cutting one off (it stops between requests), and keeps every failure,
// the access tokens it received, and the refresh tokens it did not spend.
type upgradeLoad struct {
	base     string
	hc       *http.Client
	stop     atomic.Bool
	requests atomic.Int64

	mu       sync.Mutex
	phase    string
	began    time.Time
	failed   int
	failures []string                  // the first 30
	served   map[string]map[string]int // phase -> instance URL -> requests
	access   []issued
	chains   []refreshChain
	hops     map[[2]string]int // refreshes by (instance that issued the token, instance that rotated it)
}

func newUpgradeLoad(base string) *upgradeLoad {
	return &upgradeLoad{base: base, hc: newHTTPClient(nil), phase: "R", began: time.Now(), served: map[string]map[string]int{}, hops: map[[2]string]int{}}
}

func (l *upgradeLoad) setPhase(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase = p
}

// run starts jwt and opaque client credentials goroutines and chains
// goroutines of password grants with refreshes; wait returns once they
// have all stopped.
func (l *upgradeLoad) run(jwt, opaqueN, chains int) (wait func()) {
	var wg sync.WaitGroup
	for range jwt {
		wg.Go(func() { l.clientCredentials(svc, "JWT") })
	}
	for range opaqueN {
		wg.Go(func() { l.clientCredentials(opaque, "opaque") })
	}
	for range chains {
		wg.Go(l.passwordChains)
	}
	return wg.Wait
}

func (l *upgradeLoad) clientCredentials(c client, what string) {
	for !l.stop.Load() {
		res, err := clientCredentials(context.Background(), l.hc, l.base, c)
		if l.record("client credentials ("+what+")", res, err) {
			l.keep(&l.access, issued{res.AccessToken, res.Backend, what})
		}
	}
}

// passwordChains runs password grants, each followed by up to 3 refreshes; the
// last refresh token of a chain is kept unspent.
func (l *upgradeLoad) passwordChains() {
	for !l.stop.Load() {
		res, err := passwordGrant(context.Background(), l.hc, l.base, app, "alice", alicePass)
		if !l.record("password grant", res, err) {
			continue
		}
		l.keep(&l.access, issued{res.AccessToken, res.Backend, "password grant"})
		var spent []issued
		latest := issued{res.RefreshToken, res.Backend, "refresh"}
		for range 3 {
			if l.stop.Load() {
				break
			}
			res, err := refresh(context.Background(), l.hc, l.base, app, latest.tok)
			if !l.record("refresh", res, err) {
				latest.tok = "" // its fate is unknown: recorded as a failure already
				break
			}
			l.keep(&l.access, issued{res.AccessToken, res.Backend, "refresh"})
			l.mu.Lock()
			l.hops[[2]string{latest.backend, res.Backend}]++
			l.mu.Unlock()
			spent = append(spent, latest)
			latest = issued{res.RefreshToken, res.Backend, "refresh"}
		}
		if latest.tok != "" {
			l.mu.Lock()
			l.chains = append(l.chains, refreshChain{spent, latest})
			l.mu.Unlock()
		}
	}
}

// record counts one answer and reports whether it was a 200.
func (l *upgradeLoad) record(what string, res tokenResult, err error) bool {
	l.requests.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && res.ok() {
		if l.served[l.phase] == nil {
			l.served[l.phase] = map[string]int{}
		}
		l.served[l.phase][res.Backend]++
		return true
	}
	l.failed++
	if len(l.failures) < 30 {
		msg := fmt.Sprintf("%v, %s: %s via %q: ", time.Since(l.began).Round(time.Millisecond), l.phase, what, res.Backend)
		if err != nil {
			msg += err.Error()
		} else {
			msg += res.String()
		}
		l.failures = append(l.failures, msg)
	}
	return false
}

func (l *upgradeLoad) keep(to *[]issued, tok issued) {
	l.mu.Lock()
	defer l.mu.Unlock()
	*to = append(*to, tok)
}

// servedSummary says how many requests each instance served in each phase.
func (l *upgradeLoad) servedSummary(r [2]*instance, next *instance) string {
	names := map[string]string{r[0].url: r[0].name, r[1].url: r[1].name, next.url: next.name}
	var phases []string
	for p := range l.served {
		phases = append(phases, p)
	}
	slices.Sort(phases)
	var b strings.Builder
	for _, p := range phases {
		fmt.Fprintf(&b, "\n  %s:", p)
		for u, n := range l.served[p] {
			fmt.Fprintf(&b, " %s %d,", names[u], n)
		}
	}
	return b.String()
}
