package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/webhook"
)

// SignatureHeader carries the webhook signature,
//
//	Latchkey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// which receivers check with the public package webhook (webhook.Verify).
const SignatureHeader = webhook.Header

// Defaults of WebhookOptions.
const (
	DefaultWebhookQueue    = 64
	DefaultWebhookAttempts = 6
	DefaultRetryBase       = 500 * time.Millisecond
	DefaultRetryMax        = 30 * time.Second
)

// WebhookOptions configure a Webhook.
type WebhookOptions struct {
	// URL receives the batches (https; loopback only when Fetcher allows it).
	URL string
	// Secret keys the signature; at least 16 bytes.
	Secret []byte
	// Fetcher posts through the SSRF guard; nil means the production policy.
	Fetcher *safefetch.Client
	// Logger reports deliveries given up; nil logs nothing.
	Logger *slog.Logger
	// Queue bounds the batches waiting for delivery; a full queue drops.
	Queue int
	// Attempts is how often one batch is tried before it is dropped;
	// RetryBase doubles after each failure, with jitter, up to RetryMax.
	Attempts  int
	RetryBase time.Duration
	RetryMax  time.Duration
	// Now is the clock of the signature timestamp; nil means time.Now.
	Now func() time.Time
}

// Webhook delivers audit batches as signed JSON POSTs, on its own bounded
// queue, so that a slow or dead receiver never holds up the store writes.
type Webhook struct {
	o         WebhookOptions
	queue     chan []store.AuditEvent
	dropped   prometheus.Counter
	delivered prometheus.Counter
}

// NewWebhook returns a Webhook for o, to pass in Options.Webhook.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	if len(o.Secret) < 16 {
		return nil, errors.New("audit: webhook secret is shorter than 16 bytes")
	}
	if o.URL == "" {
		return nil, errors.New("audit: webhook URL is empty")
	}
	if o.Fetcher == nil {
		o.Fetcher = safefetch.New(safefetch.Options{})
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Queue <= 0 {
		o.Queue = DefaultWebhookQueue
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultWebhookAttempts
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Webhook{o: o, queue: make(chan []store.AuditEvent, o.Queue),
		dropped:   prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered"})}, nil
}

// Payload is the JSON body of a delivery.
type Payload struct {
	Events []WireEvent `json:"events"`
}

// WireEvent is one event as the webhook and `latchkey audit tail
// --output json` write it.
type WireEvent struct {
	ID       int64             `json:"id,omitempty"`
	Time     time.Time         `json:"time"`
	Type     string            `json:"type"`
	Actor    string            `json:"actor,omitempty"`
	ClientID string            `json:"client_id,omitempty"`
	UserID   string            `json:"user_id,omitempty"`
	IP       string            `json:"ip,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
}

// Wire is e as JSON readers see it.
func Wire(e store.AuditEvent) WireEvent {
	return WireEvent{ID: e.ID, Time: e.Time.UTC(), Type: e.Type, Actor: e.Actor, ClientID: e.ClientID,
		UserID: e.UserID, IP: e.IP, Reason: e.Reason, Details: e.Details}
}

// enqueue queues a batch without blocking; a full queue drops it, counted.
func (h *Webhook) enqueue(events []store.AuditEvent) {
	select {
	case h.queue <- events:
	default:
		h.dropped.Add(float64(len(events)))
	}
}

// run delivers queued batches until closing, then what is still queued
// (one attempt each), or until ctx ends.
func (h *Webhook) run(ctx context.Context, closing <-chan struct{}) {
	for {
		select {
		case batch := <-h.queue:
			h.deliver(ctx, closing, batch)
		case <-closing:
			h.flushOnce(ctx)
			return
		case <-ctx.Done():
			return
		}
	}
}

// flushOnce tries each queued batch once, at shutdown.
func (h *Webhook) flushOnce(ctx context.Context) {
	for {
		select {
		case batch := <-h.queue:
			if err := h.post(ctx, batch); err != nil {
				h.giveUp(ctx, batch, err)
			} else {
				h.delivered.Add(float64(len(batch)))
			}
		default:
			return
		}
	}
}

// deliver posts batch, retrying with back-off until it is accepted, the
// attempts run out, or the server is shutting down.
func (h *Webhook) deliver(ctx context.Context, closing <-chan struct{}, batch []store.AuditEvent) {
	var err error
	for attempt := 1; attempt <= h.o.Attempts; attempt++ {
		if err = h.post(ctx, batch); err == nil {
			h.delivered.Add(float64(len(batch)))
			return
		}
		if !retryable(err) || attempt == h.o.Attempts {
			break
		}
		select {
		case <-time.After(h.backoff(attempt)):
		case <-closing:
			h.giveUp(ctx, batch, err)
			return
		case <-ctx.Done():
			h.giveUp(ctx, batch, err)
			return
		}
	}
	h.giveUp(ctx, batch, err)
}

func (h *Webhook) giveUp(ctx context.Context, batch []store.AuditEvent, err error) {
	h.dropped.Add(float64(len(batch)))
	h.o.Logger.WarnContext(ctx, "audit: webhook delivery given up", "events", len(batch), "err", err)
}

// backoff is the wait after failed attempt n: RetryBase·2ⁿ⁻¹ capped at
// RetryMax, with up to half of it random so receivers are not hit in step.
func (h *Webhook) backoff(n int) time.Duration {
	d := h.o.RetryBase << min(n-1, 20)
	if d > h.o.RetryMax || d <= 0 {
		d = h.o.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}

// retryable reports whether a failed delivery may succeed later: network
// failures, timeouts, 408, 429 and 5xx. A refusal by the SSRF guard or
// another 4xx will not.
func retryable(err error) bool {
	if safefetch.Refused(err) {
		return false
	}
	var se *safefetch.StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= 500 || se.StatusCode == http.StatusTooManyRequests ||
			se.StatusCode == http.StatusRequestTimeout
	}
	return true
}

// post sends one signed batch.
func (h *Webhook) post(ctx context.Context, batch []store.AuditEvent) error {
	p := Payload{Events: make([]WireEvent, len(batch))}
	for i, e := range batch {
		p.Events[i] = Wire(e)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("audit: webhook: encode: %w", err)
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set(SignatureHeader, webhook.Sign(h.o.Secret, h.o.Now(), body))
	return h.o.Fetcher.Post(ctx, h.o.URL, header, body)
}
