package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// requestLogs returns the request log lines of the environment.
func requestLogs(t *testing.T, env *testenv.Env) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader([]byte(env.Logs.String())))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "request" {
			out = append(out, line)
		}
	}
	return out
}

// TestTracedPasswordGrant: with tracing on, a password grant with openid
// is one trace: the server span named after the route, the store calls
// under it, and a span for each token signed; the request's log line
// carries the trace and span ids.
func TestTracedPasswordGrant(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	f := newFixtureOpts(t, testenv.Options{Tracing: tp})
	f.AddUser(t, "alice", "wonderland", nil)
	secret := f.AddClient(t, store.Client{ID: "web", GrantTypes: []string{"password"}, Scopes: []string{"openid", "read"}})
	tok := wantToken(t, post(t, f.Env, "/token",
		formOf("grant_type", "password", "username", "alice", "password", "wonderland", "scope", "openid read"), basic("web", secret)))
	if tok["id_token"] == nil {
		t.Fatalf("no id_token: %v", tok)
	}

	var server sdktrace.ReadOnlySpan
	var names []string
	for _, sp := range rec.Ended() {
		names = append(names, sp.Name())
		if sp.SpanKind() == trace.SpanKindServer {
			server = sp
		}
	}
	if server == nil || server.Name() != "POST /token" {
		t.Fatalf("no server span POST /token among %v", names)
	}
	for _, want := range []string{"store.GetClient", "store.GetUserByUsername", "sign access_token", "sign id_token", "store.SaveIssue"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s span among %v", want, names)
		}
	}
	for _, sp := range rec.Ended() {
		if sp.SpanContext().TraceID() != server.SpanContext().TraceID() {
			t.Errorf("span %s is in trace %s, not the request's %s", sp.Name(), sp.SpanContext().TraceID(), server.SpanContext().TraceID())
		}
	}
	lines := requestLogs(t, f.Env)
	if len(lines) != 1 {
		t.Fatalf("want one request line, got %v", lines)
	}
	if lines[0]["trace_id"] != server.SpanContext().TraceID().String() || lines[0]["span_id"] != server.SpanContext().SpanID().String() {
		t.Errorf("request line %v does not name the server span %s/%s", lines[0],
			server.SpanContext().TraceID(), server.SpanContext().SpanID())
	}
}

// TestUntracedRequestLog: with tracing off, the request line has no trace
// ids, and a caller's traceparent is not echoed into the log.
func TestUntracedRequestLog(t *testing.T) {
	f := newFixture(t, nil)
	r := send(t, f.Env, http.MethodGet, "/healthz", "", "", header("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	if r.Status != http.StatusOK {
		t.Fatalf("/healthz: %d", r.Status)
	}
	lines := requestLogs(t, f.Env)
	if len(lines) != 1 {
		t.Fatalf("want one request line, got %v", lines)
	}
	if _, ok := lines[0]["trace_id"]; ok {
		t.Errorf("request line with tracing off has a trace_id: %v", lines[0])
	}
}
