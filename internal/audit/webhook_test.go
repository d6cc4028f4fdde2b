package audit_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/webhook"
)

var hookSecret = []byte("webhook-secret-of-the-receiver-0123")

// receiver is a local webhook endpoint that verifies every delivery's
// signature with audit.Verify, as a receiver would, and answers what
// status says.
type receiver struct {
	srv      *httptest.Server
	status   atomic.Int64
	attempts atomic.Int64
	mu       sync.Mutex
	events   []audit.WireEvent
	badSig   atomic.Int64
	got      chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan struct{}, 100)}
	r.status.Store(http.StatusNoContent)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.attempts.Add(1)
		body, _ := io.ReadAll(req.Body)
		if err := webhook.Verify(hookSecret, req.Header.Get(webhook.Header), body, time.Now(), 5*time.Minute); err != nil {
			r.badSig.Add(1)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		status := int(r.status.Load())
		if status < 300 {
			var p audit.Payload
			if err := json.Unmarshal(body, &p); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.mu.Lock()
			r.events = append(r.events, p.Events...)
			r.mu.Unlock()
		}
		w.WriteHeader(status)
		r.got <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() []audit.WireEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.WireEvent(nil), r.events...)
}

func newHook(t *testing.T, url string, o audit.WebhookOptions) *audit.Webhook {
	t.Helper()
	o.URL, o.Secret = url, hookSecret
	o.Fetcher = safefetch.New(safefetch.Options{AllowLoopback: true, Timeout: 2 * time.Second})
	h, err := audit.NewWebhook(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Events reach the receiver as a signed JSON batch it can verify; a 500
// is retried and the batch then delivered once.
func TestAuditWebhookSignedAndRetried(t *testing.T) {
	rcv := newReceiver(t)
	rcv.status.Store(http.StatusInternalServerError)
	reg := prometheus.NewRegistry()
	hook := newHook(t, rcv.srv.URL+"/audit", audit.WebhookOptions{RetryBase: 20 * time.Millisecond})
	w, err := audit.NewWriter(audit.Options{Sink: openStore(t), Webhook: hook, Metrics: reg, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)
	w.Record(t.Context(), audit.Event{Type: audit.SigninSuccess, UserID: "u1", IP: "192.0.2.1"})
	<-rcv.got // the first attempt, answered 500
	rcv.status.Store(http.StatusOK)
	select {
	case <-rcv.got:
	case <-time.After(5 * time.Second):
		t.Fatal("the batch was not retried after the 500")
	}
	got := rcv.received()
	if len(got) != 1 || got[0].Type != "signin.success" || got[0].UserID != "u1" || got[0].IP != "192.0.2.1" {
		t.Fatalf("receiver got %+v", got)
	}
	if n := rcv.badSig.Load(); n != 0 {
		t.Fatalf("%d deliveries failed signature verification", n)
	}
	if n := rcv.attempts.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2 (one 500, one success)", n)
	}
}

// A receiver that stays down makes the webhook give up and its queue fill:
// batches are dropped and counted, and Record still returns at once.
func TestAuditWebhookDownDropsAndCounts(t *testing.T) {
	rcv := newReceiver(t)
	rcv.status.Store(http.StatusServiceUnavailable)
	reg := prometheus.NewRegistry()
	hook := newHook(t, rcv.srv.URL, audit.WebhookOptions{Queue: 2, Attempts: 3, RetryBase: time.Hour})
	st := openStore(t)
	w, err := audit.NewWriter(audit.Options{Sink: st, Webhook: hook, Metrics: reg, Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(t.Context())
	start := time.Now()
	for range 20 {
		w.Record(t.Context(), audit.Event{Type: audit.TokenIssued, ClientID: "c1"})
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("20 Record calls took %v with the receiver down", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// One batch was in delivery (given up at Close), two queued (one
	// attempt each at Close, refused): 17 dropped when the queue was
	// full, 20 in all, and every event is still in the store.
	if v := dropped(t, reg, "webhook"); v != 20 {
		t.Fatalf("dropped{sink=webhook} = %v, want 20", v)
	}
	if got := listAll(t, st, store.AuditQuery{}); len(got) != 20 {
		t.Fatalf("stored %d events, want 20: the store does not wait for the webhook", len(got))
	}
}

// Verify refuses a wrong secret, a changed body and an old timestamp.
func TestAuditVerifySignature(t *testing.T) {
	body := []byte(`{"events":[]}`)
	now := time.Unix(1_800_000_000, 0)
	h := webhook.Sign(hookSecret, now, body)
	if err := webhook.Verify(hookSecret, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
	}{
		{"wrong secret", []byte("another-secret-0123456789"), h, body, now},
		{"changed body", hookSecret, h, []byte(`{"events":[{}]}`), now},
		{"stale", hookSecret, h, body, now.Add(time.Hour)},
		{"malformed", hookSecret, "v1=00", body, now},
		{"empty", hookSecret, "", body, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := webhook.Verify(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// The SSRF guard is in the path: without the loopback allowance a local
// receiver is never reached.
func TestAuditWebhookSSRFGuard(t *testing.T) {
	rcv := newReceiver(t)
	reg := prometheus.NewRegistry()
	hook, err := audit.NewWebhook(audit.WebhookOptions{URL: rcv.srv.URL, Secret: hookSecret, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	w, err := audit.NewWriter(audit.Options{Webhook: hook, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(t.Context())
	w.Record(t.Context(), audit.Event{Type: audit.KeyRotated})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rcv.attempts.Load(); n != 0 {
		t.Fatalf("the receiver on loopback was reached %d times", n)
	}
	if v := dropped(t, reg, "webhook"); v != 1 {
		t.Fatalf("dropped{sink=webhook} = %v, want 1", v)
	}
}
