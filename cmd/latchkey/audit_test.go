package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testkit"
)

// TestAuditTail: a running server records what it issues (audit on by
// default), /metrics shows the drop counter, and `latchkey audit tail`
// reads the trail back with its filters, as text and as JSON lines.
func TestAuditTail(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	secret := printedSecret(t, mustRun(t, nil, "", "client", "create", "--id", "reports", "--grant-types", "client_credentials",
		"--scopes", "read", "--storage", st))
	srv := startServe(t, nil, "--listen", "127.0.0.1:0", "--storage", st)
	var tokens []string
	for range 2 {
		status, body := clientCredentials(t, srv.url, "reports", secret)
		wantToken(t, "client credentials", status, body)
		tokens = append(tokens, body["access_token"].(string))
	}
	resp, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `latchkey_audit_dropped_total{sink="queue"} 0`) {
		t.Errorf("/metrics lacks the audit drop counter")
	}
	if err := srv.stop(); err != nil { // flushes the queued events
		t.Fatal(err)
	}

	text := mustRun(t, nil, "", "audit", "tail", "--client", "reports", "--storage", st)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "token.issued") || !strings.Contains(lines[0], "client=reports") ||
		!strings.Contains(lines[0], `grant_type="client_credentials"`) {
		t.Fatalf("audit tail --client reports:\n%s", text)
	}
	out := mustRun(t, nil, "", "audit", "tail", "--type", "token.issued", "--since", "1h", "--output", "json", "--storage", st)
	var jtis []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e audit.WireEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		jtis = append(jtis, e.Details["jti"])
	}
	if len(jtis) != 2 || jtis[0] == "" || jtis[0] == jtis[1] {
		t.Fatalf("json events' jtis = %v", jtis)
	}
	for _, tok := range tokens {
		if strings.Contains(text+out, tok) || !strings.Contains(tok, ".") {
			t.Fatal("audit tail prints a token")
		}
	}
	if got := mustRun(t, nil, "", "audit", "tail", "--type", "key.rotated", "--storage", st); !strings.Contains(got, `action="generated"`) {
		t.Errorf("the first start's keys are not in the trail:\n%s", got)
	}
	if got := mustRun(t, nil, "", "audit", "tail", "--user", "nobody", "--storage", st); got != "" {
		t.Errorf("--user nobody printed:\n%s", got)
	}
	for _, bad := range [][]string{{"--type", "token.stolen"}, {"--since", "yesterday"}, {"--output", "yaml"}} {
		r := runCLI(t, nil, "", append([]string{"audit", "tail", "--storage", st}, bad...)...)
		var ue usageError
		if !errors.As(r.err, &ue) {
			t.Errorf("audit tail %v: %v, want a usage error (exit 2)", bad, r.err)
		}
	}
}

// TestAuditFollow: --follow prints events stored after it started.
func TestAuditFollow(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	mustRun(t, nil, "", "migrate", "--storage", st)
	db, err := sqlite.Open(t.Context(), strings.TrimPrefix(st, "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"latchkey", "audit", "tail", "--follow", "--storage", st}, envOf(nil), strings.NewReader(""), &stdout, io.Discard)
	}()
	time.Sleep(200 * time.Millisecond) // let tail print its (empty) first screen
	if err := db.AppendAuditEvents(t.Context(), []store.AuditEvent{{Time: time.Now(), Type: "signin.failure", Reason: "wrong_password"}}); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(stdout.String(), "signin.failure") {
		select {
		case err := <-done:
			t.Fatalf("tail --follow stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("tail --follow did not print the new event; printed %q", stdout.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail --follow ended with %v", err)
	}
}

// TestGCAuditRetention: gc removes audit events older than audit.retention
// and keeps the rest.
func TestGCAuditRetention(t *testing.T) {
	t.Parallel()
	st := sqliteStorage(t)
	mustRun(t, nil, "", "migrate", "--storage", st)
	db, err := sqlite.Open(t.Context(), strings.TrimPrefix(st, "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	var events []store.AuditEvent
	for _, age := range []time.Duration{100 * 24 * time.Hour, 91 * 24 * time.Hour, 89 * 24 * time.Hour, time.Hour} {
		events = append(events, store.AuditEvent{Time: now.Add(-age), Type: "token.issued", ClientID: "c"})
	}
	if err := db.AppendAuditEvents(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, nil, "", "gc", "--storage", st)
	if !strings.Contains(out, "removed 2 audit events older than 2160h") {
		t.Fatalf("gc printed:\n%s", out)
	}
	kept, err := db.ListAuditEvents(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 2 || kept[0].Time.Before(now.Add(-90*24*time.Hour)) {
		t.Fatalf("kept %+v, want the two events younger than 90 days", kept)
	}
}
