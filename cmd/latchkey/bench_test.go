package main

// latchkey bench against a Latchkey started with testenv: every grant,
// the integrity rules of the summary, and the exit statuses.

import (
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

const benchRedirect = "http://127.0.0.1:9999/callback"

// benchEnv is a Latchkey with a client per grant and one user, and the
// environment variables that hold their secrets.
type benchEnv struct {
	*testenv.Env
	svcSecret, appSecret, webSecret string
}

func newBenchEnv(t *testing.T) *benchEnv {
	t.Helper()
	env := testenv.New(t, testenv.Options{})
	be := &benchEnv{Env: env}
	be.svcSecret = env.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read", "write"}, Introspection: true})
	be.appSecret = env.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"openid", "read"}})
	be.webSecret = env.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{benchRedirect}, Scopes: []string{"openid", "read"}})
	env.AddUser(t, "alice", "correct horse battery staple", nil)
	return be
}

// vars are the variables a run as client id gets: its secret and the user.
func (be *benchEnv) vars(id string) map[string]string {
	secret := map[string]string{"svc": be.svcSecret, "app": be.appSecret, "web": be.webSecret}[id]
	return map[string]string{"LATCHKEY_ISSUER": be.URL, "LATCHKEY_CLIENT_ID": id, "LATCHKEY_CLIENT_SECRET": secret,
		"LATCHKEY_USERNAME": "alice", "LATCHKEY_PASSWORD": "correct horse battery staple"}
}

// benchSummary is the --json summary.
type benchSummary struct {
	Issuer      string             `json:"issuer"`
	Grant       string             `json:"grant"`
	Concurrency int                `json:"concurrency"`
	Seconds     float64            `json:"seconds"`
	OK          int64              `json:"ok"`
	Failures    int64              `json:"failures"`
	Rate        float64            `json:"rate"`
	LatencyMS   map[string]float64 `json:"latency_ms"`
	Errors      []struct {
		Status int    `json:"status"`
		Error  string `json:"error"`
		Count  int64  `json:"count"`
	} `json:"errors"`
	PagesPerFlow float64 `json:"pages_per_flow"`
}

// bench runs latchkey bench --json with vars and decodes the summary.
func bench(t *testing.T, vars map[string]string, args ...string) (benchSummary, cliResult) {
	t.Helper()
	r := runCLI(t, vars, "", append([]string{"bench", "--json", "--quiet"}, args...)...)
	var s benchSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("latchkey bench %s: %v; stdout is not the JSON summary (%v):\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, err, r.stdout, r.stderr)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal([]byte(r.stdout), &keys)
	for _, k := range []string{"issuer", "grant", "concurrency", "seconds", "ok", "failures", "rate", "latency_ms", "errors", "pages_per_flow"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("the JSON summary has no %q: %s", k, r.stdout)
		}
	}
	if len(s.LatencyMS) != 5 {
		t.Errorf("latency_ms %s, want p50, p90, p99, max and mean", keys["latency_ms"])
	}
	return s, r
}

// exitStatus is the status main gives the error run returned.
func exitStatus(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

func TestBenchEveryGrant(t *testing.T) {
	t.Parallel()
	be := newBenchEnv(t)
	short := []string{"--requests", "20", "--warmup", "0", "--concurrency", "3"}
	for _, tc := range []struct {
		name, client string
		args         []string
		pages        func(float64) bool
	}{
		{"client-credentials", "svc", []string{"--grant", "client-credentials", "--scope", "read write", "--auth-method", "post"}, nil},
		{"password", "app", []string{"--grant", "password"}, nil},
		{"refresh by the password grant", "app", []string{"--grant", "refresh"}, nil},
		{"refresh by the code flow", "web", []string{"--grant", "refresh", "--redirect-uri", benchRedirect}, nil},
		{"introspect its own token", "svc", []string{"--grant", "introspect"}, nil},
		// The first flow of each worker signs in and consents; the others find the session.
		{"authorization-code", "web", []string{"--grant", "authorization-code", "--redirect-uri", benchRedirect, "--scope", "openid read"},
			func(p float64) bool { return p >= 1 && p < 2 }},
		// Every flow: authorization request, login form, back to the authorization endpoint.
		{"authorization-code, fresh sessions", "web", []string{"--grant", "authorization-code", "--redirect-uri", benchRedirect, "--fresh-session"},
			func(p float64) bool { return p >= 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, r := bench(t, be.vars(tc.client), append(tc.args, short...)...)
			if r.err != nil || s.OK != 20 || s.Failures != 0 || len(s.Errors) != 0 {
				t.Fatalf("exit %d (%v): %d ok, %d failures %+v; want 20 ok and nothing else\nstderr:\n%s", exitStatus(r.err), r.err, s.OK, s.Failures, s.Errors, r.stderr)
			}
			if s.Rate <= 0 || s.Seconds <= 0 || s.LatencyMS["p50"] <= 0 || s.LatencyMS["max"] < s.LatencyMS["p99"] || s.Concurrency != 3 || s.Issuer != be.URL {
				t.Errorf("summary %+v: want a positive rate and latencies, 3 workers, the issuer", s)
			}
			if tc.pages == nil && s.PagesPerFlow != 0 || tc.pages != nil && !tc.pages(s.PagesPerFlow) {
				t.Errorf("pages per flow %.2f", s.PagesPerFlow)
			}
		})
	}
	t.Run("introspect a given token, for a duration", func(t *testing.T) {
		t.Parallel()
		token := decodeJSON(t, mustRun(t, be.vars("svc"), "", "token", "client-credentials"))["access_token"].(string)
		s, r := bench(t, be.vars("svc"), "--grant", "introspect", "--token", token, "--duration", "300ms", "--warmup", "100ms", "--concurrency", "2")
		if r.err != nil || s.OK == 0 || s.Failures != 0 || s.Seconds != 0.3 {
			t.Fatalf("exit %d (%v): %+v; want successes and no failures in 0.3 s", exitStatus(r.err), r.err, s)
		}
	})
}

// Failures never count as successes: with a wrong secret every request
// fails, the rate is 0, the failures are grouped, and the exit status is 1.
func TestBenchWrongSecretIsNoSuccess(t *testing.T) {
	t.Parallel()
	be := newBenchEnv(t) // its own server: the failures count against this IP
	vars := be.vars("svc")
	vars["LATCHKEY_CLIENT_SECRET"] = "wrong"
	s, r := bench(t, vars, "--requests", "25", "--warmup", "0", "--concurrency", "4")
	if exitStatus(r.err) != 1 || !strings.Contains(r.stderr+r.err.Error(), "every one of the 25 measured requests failed") {
		t.Errorf("exit %d (%v), want 1 and a message", exitStatus(r.err), r.err)
	}
	if s.OK != 0 || s.Failures != 25 || s.Rate != 0 || s.LatencyMS["p50"] != 0 {
		t.Errorf("%d ok, %d failures, rate %v, p50 %v; want 0, 25, 0, 0", s.OK, s.Failures, s.Rate, s.LatencyMS["p50"])
	}
	if len(s.Errors) != 1 || s.Errors[0].Status != 401 || s.Errors[0].Error != "invalid_client" || s.Errors[0].Count != 25 {
		t.Errorf("errors %+v, want 25 × 401 invalid_client", s.Errors)
	}
}

// The text summary, and --requests N counting exactly N.
func TestBenchText(t *testing.T) {
	t.Parallel()
	be := newBenchEnv(t)
	out := mustRun(t, be.vars("svc"), "", "bench", "--requests", "101", "--warmup", "50ms", "--concurrency", "4")
	for _, want := range []string{
		"latchkey bench: client-credentials against " + be.URL + ", 4 workers, ",
		"(after 0.05 s warm-up)\n",
		"  requests   101 ok, 0 failed\n",
		"  rate       ",
		"  latency    p50 ",
		"  errors     none\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary has no %q:\n%s", want, out)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	t.Parallel()
	base := map[string]string{"LATCHKEY_CLIENT_ID": "c", "LATCHKEY_CLIENT_SECRET": "s"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--grant", "implicit"}, `unknown --grant "implicit"`},
		{[]string{"--grant", "password"}, "needs --username"},
		{[]string{"--grant", "password", "--username", "u"}, "LATCHKEY_PASSWORD"},
		{[]string{"--grant", "refresh", "--redirect-uri", benchRedirect}, "needs --username"},
		{[]string{"--grant", "authorization-code", "--username", "u", "--password", "p"}, "needs --redirect-uri"},
		{[]string{"--grant", "authorization-code", "--username", "u", "--password", "p", "--redirect-uri", "/cb"}, "not an absolute URI"},
		{[]string{"--client-id", ""}, "--client-id"},
		{[]string{"--grant", "introspect", "--client-id", "no-secret"}, "needs the client secret"}, // run without LATCHKEY_CLIENT_SECRET
		{[]string{"--concurrency", "0"}, "--concurrency must be from 1 to 4096"},
		{[]string{"--concurrency", "5000"}, "--concurrency must be from 1 to 4096"},
		{[]string{"--duration", "5s", "--requests", "10"}, "not both"},
		{[]string{"--requests", "0"}, "--requests must be at least 1"},
		{[]string{"--warmup", "-1s"}, "--warmup cannot be negative"},
		{[]string{"--auth-method", "jwt"}, "basic or post"},
		{[]string{"--token", "t"}, "only for --grant introspect and token-exchange"},
		{[]string{"--fresh-session"}, "only for --grant authorization-code"},
		{[]string{"--issuer", "127.0.0.1:8080"}, "not an http or https URL"},
		{[]string{"extra"}, "unexpected arguments: extra"},
	} {
		vars := map[string]string{}
		for k, v := range base {
			vars[k] = v
		}
		if slices.Contains(tc.args, "no-secret") {
			delete(vars, "LATCHKEY_CLIENT_SECRET")
		}
		r := runCLI(t, vars, "", append([]string{"bench"}, tc.args...)...)
		if exitStatus(r.err) != 2 || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("bench %s: exit %d (%v), want 2 and %q", strings.Join(tc.args, " "), exitStatus(r.err), r.err, tc.want)
		}
	}
	if r := runCLI(t, nil, "", "bench", "--help"); r.err != nil || !strings.Contains(r.stdout, "--fresh-session") || !strings.Contains(r.stdout, "Example:") {
		t.Errorf("bench --help: %v\n%s", r.err, r.stdout)
	}
}

// A run that cannot start exits 1 and says why.
func TestBenchSetupFailures(t *testing.T) {
	t.Parallel()
	be := newBenchEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"no server", be.vars("svc"), []string{"--issuer", nobody}, "discovery of " + nobody + " failed"},
		{"no first refresh token", be.vars("svc"), []string{"--grant", "refresh"}, "could not get its first refresh token: HTTP 400 unauthorized_client"},
		{"no token to introspect", be.vars("app"), []string{"--grant", "introspect"}, "getting a token to introspect"},
	} {
		r := runCLI(t, tc.vars, "", append([]string{"bench", "--quiet", "--warmup", "0", "--requests", "5"}, tc.args...)...)
		if exitStatus(r.err) != 1 || !strings.Contains(r.err.Error(), tc.want) || r.stdout != "" {
			t.Errorf("%s: exit %d (%v), stdout %q; want 1, %q and no summary", tc.name, exitStatus(r.err), r.err, r.stdout, tc.want)
		}
	}
}
