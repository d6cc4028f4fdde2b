package audit_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testkit"
)

// openStore opens a fresh SQLite file, closed at cleanup.
func openStore(t *testing.T) *sqlite.Store { return openStoreB(t) }

func openStoreB(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// countingSink counts the transactions (AppendAuditEvents calls) that
// reach the real store behind it.
type countingSink struct {
	st    store.Store
	calls atomic.Int64
}

func (c *countingSink) AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error {
	c.calls.Add(1)
	return c.st.AppendAuditEvents(ctx, events)
}

// startWriter runs w until the test ends.
func startWriter(t *testing.T, w *audit.Writer) {
	t.Helper()
	go w.Run(context.WithoutCancel(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w.Close(ctx)
	})
}

// Many events become a few transactions: one per Batch events, and every
// event is stored, in order, with its fields.
func TestAuditWriterBatches(t *testing.T) {
	st := openStore(t)
	sink := &countingSink{st: st}
	reg := prometheus.NewRegistry()
	w, err := audit.NewWriter(audit.Options{Sink: sink, Metrics: reg, Batch: 100, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(t.Context())
	const n = 1000
	for i := range n {
		w.Record(t.Context(), audit.Event{Type: audit.TokenIssued, ClientID: "c1",
			Details: map[string]string{"jti": "j" + string(rune('a'+i%26))}})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := listAll(t, st, store.AuditQuery{ClientID: "c1"})
	if len(got) != n {
		t.Fatalf("stored %d events, want %d", len(got), n)
	}
	if calls := sink.calls.Load(); calls > n/100+1 {
		t.Fatalf("%d events took %d transactions, want at most %d (batches of 100)", n, calls, n/100+1)
	}
	if v := counter(t, reg, "latchkey_audit_events_total", ""); v != n {
		t.Fatalf("latchkey_audit_events_total = %v, want %d", v, n)
	}
}

// A whole batch waiting wakes the writer before its tick, and fewer
// events than a batch wait for the tick: the writer wakes per batch, not
// per event.
func TestAuditWriterWakesPerBatch(t *testing.T) {
	st := openStore(t)
	sink := &countingSink{st: st}
	w, err := audit.NewWriter(audit.Options{Sink: sink, Batch: 10, FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(t.Context())
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	for range 9 {
		w.Record(t.Context(), audit.Event{Type: audit.TokenIssued, ClientID: "c1"})
	}
	time.Sleep(200 * time.Millisecond)
	if calls := sink.calls.Load(); calls != 0 {
		t.Fatalf("9 events of a batch of 10 were written before the tick (%d transactions)", calls)
	}
	w.Record(t.Context(), audit.Event{Type: audit.TokenIssued, ClientID: "c1"})
	deadline := time.Now().Add(10 * time.Second)
	for sink.calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a full batch was not written before the tick")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := listAll(t, st, store.AuditQuery{ClientID: "c1"}); len(got) != 10 {
		t.Fatalf("stored %d events, want the batch of 10", len(got))
	}
}

// A full queue drops the event at once, and counts it, rather than make
// the caller wait (S-level rule of the issue: never block a token request).
func TestAuditWriterFullQueueDrops(t *testing.T) {
	st := openStore(t)
	reg := prometheus.NewRegistry()
	w, err := audit.NewWriter(audit.Options{Sink: st, Metrics: reg, Queue: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Not running yet: nothing drains the queue.
	for range 25 {
		w.Record(t.Context(), audit.Event{Type: audit.SigninFailure})
	}
	if v := dropped(t, reg, "queue"); v != 15 {
		t.Fatalf("dropped{sink=queue} = %v, want 15", v)
	}
	startWriter(t, w)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, st, store.AuditQuery{}); len(got) != 10 {
		t.Fatalf("stored %d events, want the 10 queued", len(got))
	}
	w.Record(t.Context(), audit.Event{Type: audit.SigninFailure})
	if v := dropped(t, reg, "queue"); v != 16 {
		t.Fatalf("an event after Close: dropped = %v, want 16", v)
	}
}

// The log line carries the event's fields and nothing that looks like a
// token, even when a caller wrongly put one in the details.
func TestAuditWriterLogsWithoutSecrets(t *testing.T) {
	st := openStore(t)
	var logs testkit.Buffer
	w, err := audit.NewWriter(audit.Options{Sink: st, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(t.Context())
	const leaked = "lk_rt_c2VjcmV0LXJlZnJlc2gtdG9rZW4tdmFsdWU"
	const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln"
	w.Record(t.Context(), audit.Event{Type: audit.TokenRevoked, UserID: "u1", ClientID: "c1", IP: "192.0.2.7",
		Details: map[string]string{"gid": "g1", "oops": leaked, "oops2": jwt}})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	line := logs.String()
	for _, want := range []string{`"msg":"audit"`, `"type":"token.revoked"`, `"user_id":"u1"`, `"client_id":"c1"`, `"ip":"192.0.2.7"`, `"gid":"g1"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %s", want, line)
		}
	}
	got := listAll(t, st, store.AuditQuery{})
	if len(got) != 1 {
		t.Fatalf("stored %d events, want 1", len(got))
	}
	for _, secret := range []string{leaked, jwt} {
		if strings.Contains(line, secret) {
			t.Errorf("log carries a token: %s", line)
		}
		for k, v := range got[0].Details {
			if strings.Contains(v, secret) {
				t.Errorf("stored detail %s carries a token", k)
			}
		}
	}
	if got[0].Details["oops"] != "[redacted]" || got[0].Details["gid"] != "g1" {
		t.Errorf("stored details = %v", got[0].Details)
	}
}

// A store that fails drops the batch (counted) and the writer goes on.
func TestAuditWriterStoreFailureCounted(t *testing.T) {
	st := openStore(t)
	reg := prometheus.NewRegistry()
	w, err := audit.NewWriter(audit.Options{Sink: st, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	st.Close() // every append now fails
	go w.Run(t.Context())
	w.Record(t.Context(), audit.Event{Type: audit.KeyRotated})
	w.Record(t.Context(), audit.Event{Type: audit.KeyRotated})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if v := dropped(t, reg, "store"); v != 2 {
		t.Fatalf("dropped{sink=store} = %v, want 2", v)
	}
}

func listAll(t *testing.T, st store.Store, q store.AuditQuery) []store.AuditEvent {
	t.Helper()
	var all []store.AuditEvent
	for {
		page, err := st.ListAuditEvents(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		q.Cursor = page[len(page)-1].ID
	}
}

func dropped(t *testing.T, reg *prometheus.Registry, sink string) float64 {
	t.Helper()
	return counter(t, reg, "latchkey_audit_dropped_total", sink)
}

// counter reads the counter name (with label sink, when not "") from reg.
func counter(t *testing.T, reg *prometheus.Registry, name, sink string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if sink == "" {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "sink" && l.GetValue() == sink {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{sink=%q}", name, sink)
	return 0
}
