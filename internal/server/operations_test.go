package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestHealthAndReadiness: /healthz answers while the process lives;
// /readyz answers 200 while the store is reachable and 503 once it is not.
func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := send(t, f.Env, http.MethodGet, path, "", ""); r.Status != http.StatusOK {
			t.Errorf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	if err := f.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if r := send(t, f.Env, http.MethodGet, "/readyz", "", ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed: %d, want 503", r.Status)
	}
	if r := send(t, f.Env, http.MethodGet, "/healthz", "", ""); r.Status != http.StatusOK {
		t.Errorf("/healthz with the store closed: %d, want 200", r.Status)
	}
	// A token request meets the closed store: 503 temporarily_unavailable
	// (S074), not a 500.
	r := post(t, f.Env, "/token", creds("svc", "x", formOf("grant_type", "client_credentials")))
	wantOAuthError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
}

// metricValue reads one sample from the Prometheus text exposition.
func metricValue(t *testing.T, env *testenv.Env, name string, labels ...string) float64 {
	t.Helper()
	r := send(t, env, http.MethodGet, "/metrics", "", "")
	sc := bufio.NewScanner(strings.NewReader(string(r.Body)))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		return v
	}
	return 0
}

// TestMetricsMatchRequests: the counters of /metrics move exactly with the
// requests made.
func TestMetricsMatchRequests(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	for range 3 {
		wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "client_credentials"), basic("svc", secret)))
	}
	for range 2 {
		post(t, f.Env, "/token", formOf("grant_type", "client_credentials"), basic("svc", "wrong"))
	}
	post(t, f.Env, "/token", formOf("grant_type", "client_credentials", "scope", "admin"), basic("svc", secret))

	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"latchkey_tokens_issued_total", []string{`grant_type="client_credentials"`}, 3},
		{"latchkey_http_requests_total", []string{`endpoint="/token"`, `code="200"`}, 3},
		{"latchkey_http_requests_total", []string{`endpoint="/token"`, `code="401"`}, 2},
		{"latchkey_http_requests_total", []string{`endpoint="/token"`, `code="400"`}, 1},
		{"latchkey_oauth_errors_total", []string{`error="invalid_client"`}, 2},
		{"latchkey_oauth_errors_total", []string{`error="invalid_scope"`}, 1},
		{"latchkey_http_request_duration_seconds_count", []string{`endpoint="/token"`}, 6},
	}
	for _, c := range checks {
		if got := metricValue(t, f.Env, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// logLines parses the captured JSON log.
func logLines(t *testing.T, env *testenv.Env) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(env.Logs.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, rec)
	}
	return out
}

// TestOneLogLinePerRequest: every request leaves exactly one "request"
// line with method, path, status and duration, plus client_id and
// grant_type when known, and the error code when there is one.
func TestOneLogLinePerRequest(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}})
	wantToken(t, post(t, f.Env, "/token", formOf("grant_type", "client_credentials"), basic("svc", secret)))
	post(t, f.Env, "/token?code=lk_ac_secret", formOf("grant_type", "client_credentials"), basic("svc", "wrong"))
	send(t, f.Env, http.MethodGet, "/healthz", "", "")

	var reqs []map[string]any
	for _, rec := range logLines(t, f.Env) {
		if rec["msg"] == "request" {
			reqs = append(reqs, rec)
		}
	}
	if len(reqs) != 3 {
		t.Fatalf("%d request lines, want 3", len(reqs))
	}
	want := []map[string]any{
		{"method": "POST", "path": "/token", "status": 200.0, "client_id": "svc", "grant_type": "client_credentials"},
		{"method": "POST", "path": "/token", "status": 401.0, "client_id": "svc", "grant_type": "client_credentials", "error": "invalid_client"},
		{"method": "GET", "path": "/healthz", "status": 200.0},
	}
	for i, w := range want {
		for k, v := range w {
			if reqs[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, reqs[i][k], v)
			}
		}
		if _, ok := reqs[i]["duration"]; !ok {
			t.Errorf("line %d has no duration", i)
		}
	}
	if strings.Contains(f.Logs.String(), "lk_ac_secret") {
		t.Error("the query string was logged (S128)")
	}
}

// TestDrainTurnsReadinessOff: after Drain, /readyz answers 503 so load
// balancers route around the instance, while every endpoint still serves.
func TestDrainTurnsReadinessOff(t *testing.T) {
	var srv *server.Server
	f := newFixtureOpts(t, testenv.Options{Mount: func(_ *testenv.Env, _ server.Store, s *server.Server, h http.Handler) http.Handler {
		srv = s
		return h
	}})
	secret := f.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	srv.Drain()
	r := send(t, f.Env, http.MethodGet, "/readyz", "", "")
	if r.Status != http.StatusServiceUnavailable || string(r.Body) != "shutting down\n" {
		t.Errorf("/readyz after Drain: %d %q, want 503 shutting down", r.Status, r.Body)
	}
	if r := send(t, f.Env, http.MethodGet, "/healthz", "", ""); r.Status != http.StatusOK {
		t.Errorf("/healthz after Drain: %d, want 200", r.Status)
	}
	wantToken(t, post(t, f.Env, "/token", creds("svc", secret, formOf("grant_type", "client_credentials"))))
}
