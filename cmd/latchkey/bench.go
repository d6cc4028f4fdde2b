package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/latchkey/latchkey/internal/loadgen"
)

const benchUsage = `bench --issuer URL --grant GRANT [flags]

Sends one kind of request to any OAuth 2 server from --concurrency workers, each
as fast as the server answers, and prints the rate of successes and their
latency (HDR histogram). Failures never count in the rate: they are counted and
grouped by HTTP status and OAuth error code. Requests count when they complete
inside the measured window, which starts after --warmup. One request is:

  client-credentials   a token request with grant_type=client_credentials
  password             a token request with grant_type=password
  refresh              a rotation of the worker's refresh token. Each worker first
                       gets one, untimed, by the password grant (or by the code flow
                       when --redirect-uri is given), and a new one after a failure.
  introspect           an introspection of --token (default: an access token from
                       the client credentials grant, taken before the run)
  token-exchange       a token exchange (RFC 8693) of the subject access token
                       --token (default: one taken before the run, the user's by
                       the password grant with --username, else the client's own)
  authorization-code   the whole code flow with PKCE, headless and timed as one
                       request: the authorization request, the login and consent
                       forms, the redirect, the code exchange. Each worker keeps its
                       cookies, so after its first flow the server may skip login and
                       consent ("pages per flow" near 1). With --fresh-session every
                       flow starts without cookies and signs in through the form.
  jwt-bearer           a token request with the JWT bearer grant (RFC 7523) presenting
                       the JWT in --assertion-file (a Kubernetes service account token,
                       a CI job's OIDC token) every time: its trusted issuer must have
                       allow_token_reuse, or every request after the first is a replay

With --dpop every token request carries a fresh DPoP proof (RFC 9449), ES256,
signed by the worker's own key (one per worker, made before the run), so making
the proofs is part of the timed work. A refresh token bound to that key (a
public client's) is refreshed with proofs of the same key. When the server asks
for its nonce (use_dpop_nonce), the request is sent once more with it, and the
latest DPoP-Nonce goes into every later proof. An answer that is not DPoP-bound
(token_type Bearer) is a failure, so a server that ignores the proofs shows as
failed requests, not as a fast one.

A progress line goes to standard error every second (every 5 s when standard
error is not a terminal) unless --quiet. Exit status: 0 when the run completed,
even with failures; 1 when it could not start or every request failed; 2 for a
mistake on the command line.

latchkey bench seed fills a database with millions of users, clients, grants
and refresh tokens for the scale measurements (latchkey bench seed --help).`

const benchExample = `latchkey bench --issuer http://127.0.0.1:8080 --client-id demo-service --concurrency 16 --duration 10s
# secrets from the environment: LATCHKEY_CLIENT_SECRET, LATCHKEY_PASSWORD
latchkey bench --grant password --client-id demo-app --username demo --requests 1000 --json
latchkey bench --grant authorization-code --client-id demo-web --username demo --redirect-uri http://127.0.0.1:9999/callback --fresh-session
latchkey bench --grant client-credentials --client-id demo-service --dpop --concurrency 16 --duration 10s
latchkey bench --grant token-exchange --client-id notes-api --token "$USER_TOKEN" --scope read

latchkey bench --grant jwt-bearer --client-id deployer --assertion-file /var/run/secrets/tokens/latchkey`

// benchFlags are the flags of latchkey bench.
type benchFlags struct {
	serverFlags
	grant                                         string
	username, password, scope, redirectURI, token string
	assertionFile, assertion                      string
	concurrency                                   int
	requests                                      int64
	duration, warmup, timeout                     time.Duration
	rate                                          float64
	jsonOut, quiet, freshSession, dpop            bool
}

func (b *benchFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	b.serverFlags.register(fs, getenv)
	fs.StringVar(&b.grant, "grant", string(loadgen.ClientCredentials), "the `grant` one request makes: client-credentials, password, refresh, introspect, authorization-code, token-exchange or jwt-bearer")
	fs.StringVar(&b.username, "username", getenv("LATCHKEY_USERNAME"), "resource owner's `username` (LATCHKEY_USERNAME; password, refresh, authorization-code)")
	fs.StringVar(&b.password, "password", "", "resource owner's `password` (prefer LATCHKEY_PASSWORD: flags show in ps)")
	fs.StringVar(&b.scope, "scope", "", "requested `scopes`, space-separated (default: the server's)")
	fs.StringVar(&b.redirectURI, "redirect-uri", "", "the client's redirect `URI` (authorization-code; refresh by the code flow)")
	fs.StringVar(&b.token, "token", "", "the `token` to introspect (introspect) or to exchange (token-exchange); default: one taken before the run")
	fs.StringVar(&b.assertionFile, "assertion-file", "", "the `file` holding the JWT to present (jwt-bearer)")
	fs.BoolVar(&b.freshSession, "fresh-session", false, "authorization-code: a new cookie jar for every flow, so every request signs in through the login form")
	fs.BoolVar(&b.dpop, "dpop", false, "a fresh DPoP proof (ES256, a key per worker) with every token request; answers not DPoP-bound are failures (not introspect)")
	fs.IntVar(&b.concurrency, "concurrency", 16, "number of workers, each with one request in flight")
	fs.DurationVar(&b.duration, "duration", 10*time.Second, "length of the measured window")
	fs.Int64Var(&b.requests, "requests", 0, "stop after `N` requests (successes and failures) instead (exclusive with --duration)")
	fs.DurationVar(&b.warmup, "warmup", time.Second, "untimed warm-up before the window (0 disables)")
	fs.DurationVar(&b.timeout, "timeout", 10*time.Second, "timeout of each HTTP request")
	fs.Float64Var(&b.rate, "rate", 0, "at most `N` requests per second from all workers together (0: as many as they can); for long runs at a fixed load")
	fs.BoolVar(&b.jsonOut, "json", false, "print the summary as one JSON object")
	fs.BoolVar(&b.quiet, "quiet", false, "no progress line")
}

func runBench(ctx context.Context, args []string, e env) error {
	if len(args) > 0 && args[0] == "seed" {
		return runBenchSeed(ctx, args[1:], e)
	}
	fs := newFlags("bench", benchUsage, benchExample, e.stdout)
	var b benchFlags
	b.register(fs, e.getenv)
	if done, err := parse(fs, args); done {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	b.secretFromEnv(e.getenv)
	if b.password == "" {
		b.password = e.getenv("LATCHKEY_PASSWORD")
	}
	if b.assertionFile != "" {
		raw, err := os.ReadFile(b.assertionFile)
		if err != nil {
			return usageError{fmt.Sprintf("--assertion-file: %v", err)}
		}
		b.assertion = strings.TrimSpace(string(raw))
	}
	cfg, err := b.config(set)
	if err != nil {
		return err
	}
	var prog *progressLine
	if !b.quiet {
		prog = newProgressLine(e.stderr)
		cfg.Progress = prog.show
	}
	res, err := loadgen.Run(ctx, cfg)
	prog.finish()
	if err != nil {
		return fmt.Errorf("the benchmark could not start: %w", err)
	}
	if b.jsonOut {
		err = printBenchJSON(e.stdout, res)
	} else {
		err = printBenchText(e.stdout, res)
	}
	if err != nil {
		return err
	}
	return benchVerdict(res)
}

// config checks the flags and turns them into a run's configuration; a
// mistake is a usage error that names the flag.
func (b benchFlags) config(set map[string]bool) (loadgen.Config, error) {
	g := loadgen.Grant(b.grant)
	login := b.username != "" && b.password != ""
	var problem string
	switch {
	case !validGrant(g):
		problem = fmt.Sprintf("unknown --grant %q: use client-credentials, password, refresh, introspect, authorization-code, token-exchange or jwt-bearer", b.grant)
	case !validIssuer(b.issuer):
		problem = fmt.Sprintf("--issuer %q is not an http or https URL", b.issuer)
	case b.clientID == "":
		problem = "--client-id (or LATCHKEY_CLIENT_ID) is required"
	case (g == loadgen.ClientCredentials || g == loadgen.Introspect || g == loadgen.TokenExchange || g == loadgen.JWTBearer) && b.secret == "":
		problem = fmt.Sprintf("--grant %s needs the client secret: set LATCHKEY_CLIENT_SECRET (or --client-secret)", g)
	case (g == loadgen.Password || g == loadgen.Refresh || g == loadgen.AuthorizationCode) && !login:
		problem = fmt.Sprintf("--grant %s needs --username (or LATCHKEY_USERNAME) and the password in LATCHKEY_PASSWORD (or --password)", g)
	case g == loadgen.AuthorizationCode && b.redirectURI == "":
		problem = "--grant authorization-code needs --redirect-uri, one of the client's registered redirect URIs"
	case g == loadgen.JWTBearer && b.assertion == "":
		problem = "--grant jwt-bearer needs --assertion-file, the file holding the JWT to present"
	case b.assertion != "" && g != loadgen.JWTBearer:
		problem = "--assertion-file is only for --grant jwt-bearer"
	case b.token != "" && g != loadgen.Introspect && g != loadgen.TokenExchange:
		problem = "--token is only for --grant introspect and token-exchange"
	case b.freshSession && g != loadgen.AuthorizationCode:
		problem = "--fresh-session is only for --grant authorization-code"
	case b.dpop && g == loadgen.Introspect:
		problem = "--dpop is for token requests: use it with client-credentials, password, refresh or authorization-code, not introspect"
	case b.concurrency < 1 || b.concurrency > loadgen.MaxConcurrency:
		problem = fmt.Sprintf("--concurrency must be from 1 to %d", loadgen.MaxConcurrency)
	case set["duration"] && set["requests"]:
		problem = "give --duration or --requests, not both"
	case set["requests"] && b.requests < 1:
		problem = "--requests must be at least 1"
	case b.duration <= 0:
		problem = "--duration must be positive"
	case b.warmup < 0:
		problem = "--warmup cannot be negative (0 disables it)"
	case b.timeout <= 0:
		problem = "--timeout must be positive"
	case b.rate < 0:
		problem = "--rate cannot be negative"
	}
	if problem != "" {
		return loadgen.Config{}, usageError{problem}
	}
	cfg := loadgen.Config{Issuer: b.issuer, Grant: g, ClientID: b.clientID, ClientSecret: b.secret, AuthMethod: b.authMethod.method(),
		Username: b.username, Password: b.password, Scope: b.scope, RedirectURI: b.redirectURI, Token: b.token, Assertion: b.assertion,
		FreshSession: b.freshSession, DPoP: b.dpop, Concurrency: b.concurrency, Duration: b.duration, Warmup: b.warmup, Timeout: b.timeout,
		Rate: b.rate}
	if set["requests"] {
		cfg.Duration, cfg.Requests = 0, b.requests
	}
	if err := cfg.Check(); err != nil {
		return loadgen.Config{}, usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	return cfg, nil
}

func validGrant(g loadgen.Grant) bool {
	for _, known := range loadgen.Grants() {
		if g == known {
			return true
		}
	}
	return false
}

func validIssuer(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// benchVerdict is the command's error for a run that printed its summary
// but that a script should not take for a success.
func benchVerdict(res *loadgen.Result) error {
	switch {
	case res.Interrupted:
		return fmt.Errorf("interrupted: the summary covers the first %.1f s", res.Elapsed.Seconds())
	case res.OK == 0 && res.Failures > 0:
		return fmt.Errorf("every one of the %d measured requests failed", res.Failures)
	case res.OK == 0:
		return errors.New("no request completed in the measured window: try a longer --duration")
	}
	return nil
}

// progressLine shows the progress on standard error: rewritten in place
// on a terminal, else one plain line every 5 s.
type progressLine struct {
	w    io.Writer
	tty  bool
	next time.Duration // when the next plain line is due
	used bool
}

func newProgressLine(w io.Writer) *progressLine {
	p := &progressLine{w: w, next: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		p.tty = term.IsTerminal(int(f.Fd()))
	}
	return p
}

func (p *progressLine) show(pr loadgen.Progress) {
	if pr.Warmup {
		if p.tty {
			fmt.Fprintf(p.w, "\rbench: warming up, %.0f s\x1b[K", pr.Elapsed.Seconds())
			p.used = true
		}
		return
	}
	line := fmt.Sprintf("bench: %5.1f s  %s done  %s req/s  %s errors", pr.Elapsed.Seconds(),
		groupInt(pr.Completed), groupFloat(pr.Rate, 0), groupInt(pr.Failed))
	switch {
	case p.tty:
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.used = true
	case pr.Elapsed+100*time.Millisecond >= p.next:
		fmt.Fprintln(p.w, line)
		p.next += 5 * time.Second
	}
}

// finish clears the line on a terminal.
func (p *progressLine) finish() {
	if p != nil && p.tty && p.used {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// printBenchText prints the summary table.
func printBenchText(w io.Writer, r *loadgen.Result) error {
	warm := "no warm-up"
	if r.Warmup > 0 {
		warm = "after " + strconv.FormatFloat(r.Warmup.Seconds(), 'f', -1, 64) + " s warm-up"
	}
	if r.Interrupted {
		warm += ", interrupted"
	}
	var b strings.Builder
	workers := "workers"
	if r.Concurrency == 1 {
		workers = "worker"
	}
	fmt.Fprintf(&b, "latchkey bench: %s against %s, %d %s, %.1f s (%s)\n", r.Grant, r.Issuer, r.Concurrency, workers, r.Elapsed.Seconds(), warm)
	fmt.Fprintf(&b, "  requests   %s ok, %s failed\n", groupInt(r.OK), groupInt(r.Failures))
	fmt.Fprintf(&b, "  rate       %s req/s\n", groupFloat(r.Rate(), 1))
	if r.OK > 0 {
		l := r.Latency
		fmt.Fprintf(&b, "  latency    p50 %s  p90 %s  p99 %s  max %s\n", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max))
	} else {
		b.WriteString("  latency    none: no request succeeded\n")
	}
	if r.Grant == loadgen.AuthorizationCode {
		fmt.Fprintf(&b, "  pages      %.1f per flow (1: session and consent remembered)\n", r.PagesPerFlow)
	}
	if r.DPoP {
		fmt.Fprintf(&b, "  dpop       %s\n", dpopLine(r))
	}
	if r.Renewals > 0 {
		fmt.Fprintf(&b, "  renewals   %s new refresh token chains after failures, %s attempts failed\n", groupInt(r.Renewals), groupInt(r.RenewalFailures))
	}
	if len(r.Errors) == 0 {
		b.WriteString("  errors     none\n")
	}
	for i, g := range r.Errors {
		label := "  errors     "
		if i > 0 {
			label = strings.Repeat(" ", len(label))
		}
		fmt.Fprintf(&b, "%s%s × %s\n", label, groupInt(g.Count), describeGroup(g))
	}
	if r.Failures > 0 {
		l := r.FailureLatency
		fmt.Fprintf(&b, "  failed in  p50 %s  p99 %s  max %s\n", ms(l.P50), ms(l.P99), ms(l.Max))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// dpopLine says whether the answers of a DPoP run were DPoP-bound.
func dpopLine(r *loadgen.Result) string {
	var unbound int64
	for _, g := range r.Errors {
		if strings.HasPrefix(g.Error, "not DPoP-bound") {
			unbound += g.Count
		}
	}
	s := "every success DPoP-bound (token_type DPoP)"
	switch {
	case unbound > 0 && r.OK == 0:
		s = fmt.Sprintf("NOT DPoP-BOUND: the server answered %s proofs with tokens of another type", groupInt(unbound))
	case unbound > 0:
		s = fmt.Sprintf("%s; but %s answers NOT DPoP-bound (counted as failures)", s, groupInt(unbound))
	}
	s += "; ES256 proofs, a key per worker"
	if r.NonceRetries > 0 {
		s += fmt.Sprintf("; %s sent again with the server's nonce", groupInt(r.NonceRetries))
	}
	return s
}

func describeGroup(g loadgen.ErrorGroup) string {
	switch {
	case g.Status == 0:
		return "no answer: " + g.Error
	case g.Error == "":
		return fmt.Sprintf("HTTP %d", g.Status)
	}
	return fmt.Sprintf("HTTP %d %s", g.Status, g.Error)
}

// benchJSON is the --json summary; scripts read its keys.
type benchJSON struct {
	Issuer       string               `json:"issuer"`
	Grant        string               `json:"grant"`
	Concurrency  int                  `json:"concurrency"`
	Seconds      float64              `json:"seconds"`
	OK           int64                `json:"ok"`
	Failures     int64                `json:"failures"`
	Rate         float64              `json:"rate"`
	LatencyMS    latencyJSON          `json:"latency_ms"`
	Errors       []loadgen.ErrorGroup `json:"errors"`
	PagesPerFlow float64              `json:"pages_per_flow"`
	// DPoP says every token request carried a proof; DPoPBound counts the
	// successes then (all of them, since an unbound answer is a failure),
	// NonceRetries the requests sent again with the server's nonce.
	DPoP         bool  `json:"dpop"`
	DPoPBound    int64 `json:"dpop_bound"`
	NonceRetries int64 `json:"nonce_retries"`
}

type latencyJSON struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func printBenchJSON(w io.Writer, r *loadgen.Result) error {
	toMS := func(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }
	l := r.Latency
	out := benchJSON{Issuer: r.Issuer, Grant: string(r.Grant), Concurrency: r.Concurrency,
		Seconds: round(r.Elapsed.Seconds(), 3), OK: r.OK, Failures: r.Failures, Rate: round(r.Rate(), 1),
		LatencyMS: latencyJSON{P50: toMS(l.P50), P90: toMS(l.P90), P99: toMS(l.P99), Max: toMS(l.Max), Mean: toMS(l.Mean)},
		Errors:    r.Errors, PagesPerFlow: round(r.PagesPerFlow, 2), DPoP: r.DPoP, NonceRetries: r.NonceRetries}
	if r.DPoP {
		out.DPoPBound = r.OK
	}
	return json.NewEncoder(w).Encode(out)
}

func round(f float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(f*p) / p
}

// ms formats a latency in milliseconds to about three significant digits.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return groupFloat(v, 0) + " ms"
}

// groupInt writes n with thousands separators: 115,432.
func groupInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// groupFloat writes f with thousands separators and decimals digits.
func groupFloat(f float64, decimals int) string {
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	whole, frac, hasFrac := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return s
	}
	if hasFrac {
		return groupInt(n) + "." + frac
	}
	return groupInt(n)
}
