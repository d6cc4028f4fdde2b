package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP trace receiver: it decodes what an exporter
// POSTs to /v1/traces, as an OpenTelemetry Collector would.
type collector struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector got %s %s (%s), want POST /v1/traces in protobuf", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "not OTLP", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if err != nil {
			t.Errorf("collector: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.name" {
					c.services = append(c.services, a.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.Close)
	return c
}

// named returns the received spans called name.
func (c *collector) named(name string) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, sp := range c.spans {
		if sp.Name == name {
			out = append(out, sp)
		}
	}
	return out
}

// trace returns the received spans of the trace with id, by name.
func (c *collector) trace(id string) map[string][]*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	byName := map[string][]*tracepb.Span{}
	for _, sp := range c.spans {
		if hex.EncodeToString(sp.TraceId) == id {
			byName[sp.Name] = append(byName[sp.Name], sp)
		}
	}
	return byName
}

// TestTracesReachCollector runs serve with tracing.otlp_endpoint at an
// in-test collector: a token request arrives there as one trace of the
// HTTP server span, the store's spans and the signing span, and its
// request log line names the same trace and span. A caller's traceparent
// is continued.
func TestTracesReachCollector(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	dir := t.TempDir()
	const secret = "a-long-random-secret-of-32-or-more-characters"
	cfgPath := filepath.Join(dir, "latchkey.yaml")
	cfgYAML := "tracing:\n  otlp_endpoint: " + col.URL + "\n  service_name: latchkey-test\nadmin:\n  enabled: true\n" +
		"clients:\n  - id: reports\n    secret: " + secret + "\n    grant_types: [client_credentials]\n" +
		"    scopes: [read, latchkey:admin:clients:read]\n    default_scopes: [read]\n"
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, nil, "--config", cfgPath, "--listen", "127.0.0.1:0", "--storage", "sqlite://"+filepath.Join(dir, "latchkey.db"))
	if code, body := clientCredentials(t, s.url, "reports", secret); code != http.StatusOK {
		t.Fatalf("/token: %d %v", code, body)
	}
	// The caller's trace: W3C traceparent (version, trace id, parent span, sampled).
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodPost, s.url+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	req.SetBasicAuth("reports", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/token with a traceparent: %d", resp.StatusCode)
	}
	// The admin API on the main listener is traced too.
	code, body := postForm(t, s.url+"/token", "reports", secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"latchkey:admin:clients:read"}})
	if code != http.StatusOK {
		t.Fatalf("/token for the admin API: %d %v", code, body)
	}
	areq, _ := http.NewRequest(http.MethodGet, s.url+"/admin/v1/clients/reports", nil)
	areq.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	aresp, err := http.DefaultClient.Do(areq)
	if err != nil {
		t.Fatal(err)
	}
	aresp.Body.Close()
	if aresp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/v1/clients/reports: %d", aresp.StatusCode)
	}
	// Stopping flushes the batched spans and the batched log lines.
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}

	lines := requestLines(t, s.stderr.String(), "/token")
	if len(lines) != 3 {
		t.Fatalf("want 3 request lines for /token, got %d in:\n%s", len(lines), s.stderr.String())
	}
	for i, line := range lines[:2] {
		if line.TraceID == "" || line.SpanID == "" {
			t.Fatalf("request line %d has no trace_id or span_id: %+v", i, line)
		}
		byName := col.trace(line.TraceID)
		servers := byName["POST /token"]
		if len(servers) != 1 || servers[0].Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Fatalf("trace %s: want one server span POST /token, got spans %v", line.TraceID, names(byName))
		}
		t.Logf("trace %s: %v", line.TraceID, names(byName))
		server := servers[0]
		if got := hex.EncodeToString(server.SpanId); got != line.SpanID {
			t.Errorf("the log line's span_id %s is not the server span's %s", line.SpanID, got)
		}
		// Every other span of the trace descends from the server span.
		for name, spans := range byName {
			for _, sp := range spans {
				if sp != server && !descends(sp, server, byName) {
					t.Errorf("trace %s: span %s is not under the server span", line.TraceID, name)
				}
			}
		}
		if len(byName["sign access_token"]) != 1 {
			t.Errorf("trace %s: want one sign access_token span, got %v", line.TraceID, names(byName))
		}
		if i == 0 {
			// The first request reads the client past an empty cache.
			if len(byName["store.GetClient"]) == 0 {
				t.Errorf("trace %s: no store.GetClient span: %v", line.TraceID, names(byName))
			}
			continue
		}
		if line.TraceID != callerTrace || hex.EncodeToString(server.ParentSpanId) != callerSpan {
			t.Errorf("the request with a traceparent is trace %s under %x, want %s under %s",
				line.TraceID, server.ParentSpanId, callerTrace, callerSpan)
		}
	}
	admins := col.named("GET /admin/v1")
	if len(admins) != 1 {
		t.Fatalf("want one GET /admin/v1 server span, got %d", len(admins))
	}
	byName := col.trace(hex.EncodeToString(admins[0].TraceId))
	stored := 0
	for name, spans := range byName {
		for _, sp := range spans {
			if strings.HasPrefix(name, "store.") && descends(sp, admins[0], byName) {
				stored++
			}
		}
	}
	if stored == 0 {
		t.Errorf("the admin request's trace has no store span under it: %v", names(byName))
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, name := range col.services {
		if name != "latchkey-test" {
			t.Errorf("spans arrived from service.name %q, want latchkey-test", name)
		}
	}
}

// requestLine is what the tests read of a request's log line.
type requestLine struct {
	Msg, Path string
	TraceID   string `json:"trace_id"`
	SpanID    string `json:"span_id"`
}

// requestLines returns the request log lines of path, in order.
func requestLines(t *testing.T, logs, path string) []requestLine {
	t.Helper()
	var out []requestLine
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var l requestLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "request" && l.Path == path {
			out = append(out, l)
		}
	}
	return out
}

// descends reports whether sp is below root in its trace.
func descends(sp, root *tracepb.Span, byName map[string][]*tracepb.Span) bool {
	byID := map[string]*tracepb.Span{}
	for _, spans := range byName {
		for _, s := range spans {
			byID[string(s.SpanId)] = s
		}
	}
	for hops := 0; sp != nil && hops < 64; hops++ {
		if string(sp.ParentSpanId) == string(root.SpanId) {
			return true
		}
		sp = byID[string(sp.ParentSpanId)]
	}
	return false
}

func names(byName map[string][]*tracepb.Span) []string {
	var out []string
	for name, spans := range byName {
		for range spans {
			out = append(out, name)
		}
	}
	return out
}
