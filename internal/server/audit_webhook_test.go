package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/webhook"
)

// With the webhook's receiver down, its queue fills and batches are
// dropped and counted, while every token request still succeeds and every
// event still reaches the database; once the receiver is back, a later
// event arrives signed.
func TestAuditWebhookReceiverDown(t *testing.T) {
	secret := []byte("a-webhook-secret-of-32-characters!")
	var down atomic.Bool
	down.Store(true)
	var delivered, badSig atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if webhook.Verify(secret, r.Header.Get(webhook.Header), body, time.Now(), time.Minute) != nil {
			badSig.Add(1)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		delivered.Add(1)
	}))
	defer rcv.Close()
	hook, err := audit.NewWebhook(audit.WebhookOptions{URL: rcv.URL, Secret: secret, Queue: 2, Attempts: 2,
		RetryBase: time.Millisecond, Fetcher: safefetch.New(safefetch.Options{AllowLoopback: true})})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var w *audit.Writer
	env := testenv.New(t, testenv.Options{Configure: func(c *server.Config) {
		c.Audit = audit.RecorderFunc(func(ctx context.Context, e audit.Event) { w.Record(ctx, e) })
	}})
	if w, err = audit.NewWriter(audit.Options{Sink: env.Store, Webhook: hook, Metrics: reg, Batch: 1, FlushEvery: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	go w.Run(context.WithoutCancel(t.Context()))
	cc := env.AddClient(t, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	const n = 200
	for i := range n {
		if r := post(t, env, "/token", url.Values{"grant_type": {"client_credentials"}}, basic("svc", cc)); r.Status != http.StatusOK {
			t.Fatalf("token request %d with the receiver down: %d", i, r.Status)
		}
	}
	down.Store(false)
	for deadline := time.Now().Add(5 * time.Second); delivered.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no signed delivery after the receiver came back")
		}
		post(t, env, "/token", url.Values{"grant_type": {"client_credentials"}}, basic("svc", cc))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if v := counterValue(t, reg, "latchkey_audit_dropped_total", "webhook"); v == 0 {
		t.Fatal("no webhook drop counted with the receiver down for 200 events and a queue of 2")
	}
	stored, err := env.Store.ListAuditEvents(t.Context(), store.AuditQuery{ClientID: "svc", Limit: store.MaxAuditPage})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) < n {
		t.Fatalf("stored %d events, want %d: the database does not wait for the webhook", len(stored), n)
	}
	if badSig.Load() != 0 {
		t.Fatalf("%d deliveries with a bad signature", badSig.Load())
	}
}

// counterValue reads the counter name{sink=sink} from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, sink string) float64 {
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
