package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchkey/latchkey/internal/store"
)

// Sink is where the Writer keeps events: the store's audit trail.
type Sink interface {
	AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error
}

// Defaults of Options.
const (
	DefaultQueue      = 8192
	DefaultBatch      = 256
	DefaultFlushEvery = 100 * time.Millisecond
)

// Options configure a Writer. Zero fields take the defaults.
type Options struct {
	// Sink stores the events; nil keeps them in the log (and the webhook) only.
	Sink Sink
	// Logger gets one info line per event; nil logs nothing.
	Logger *slog.Logger
	// Webhook, when set, receives every batch the Writer takes.
	Webhook *Webhook
	// Metrics receives latchkey_audit_events_total and
	// latchkey_audit_dropped_total; nil registers nothing.
	Metrics prometheus.Registerer
	// Queue bounds the events waiting to be written; a full queue drops.
	Queue int
	// Batch is the most events one transaction writes; FlushEvery is the
	// longest an event waits for its batch to fill.
	Batch      int
	FlushEvery time.Duration
	// Now stamps events that come without a time; nil means time.Now.
	Now func() time.Time
}

// Writer is the Recorder of a server with audit on: Record puts the event
// on a bounded queue and returns at once; one goroutine takes the queue in
// batches, stores each batch in one transaction, logs it and hands it to
// the webhook. Start it with Run; Close flushes what is queued.
type Writer struct {
	opts    Options
	queue   chan Event
	full    chan struct{} // a batch is waiting: wakes Run before its tick
	closing chan struct{}
	done    chan struct{}
	closed  atomic.Bool
	once    sync.Once
	m       *writerMetrics
}

// NewWriter returns a Writer for o; call Run to start it.
func NewWriter(o Options) (*Writer, error) {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = DefaultFlushEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newWriterMetrics(o.Metrics)
	if err != nil {
		return nil, err
	}
	if o.Webhook != nil {
		o.Webhook.dropped = m.dropped.WithLabelValues("webhook")
		o.Webhook.delivered = m.delivered
	}
	return &Writer{opts: o, queue: make(chan Event, o.Queue), full: make(chan struct{}, 1), closing: make(chan struct{}),
		done: make(chan struct{}), m: m}, nil
}

// Record queues e, sanitized, without blocking. When the queue is full, or
// the Writer is closed, e is dropped and counted.
func (w *Writer) Record(_ context.Context, e Event) {
	if w.closed.Load() {
		w.m.dropped.WithLabelValues("queue").Inc()
		return
	}
	select {
	case w.queue <- e:
	default:
		w.m.dropped.WithLabelValues("queue").Inc()
		return
	}
	if len(w.queue) >= w.opts.Batch {
		select {
		case w.full <- struct{}{}:
		default: // Run is already woken
		}
	}
}

// Run writes queued events until Close, then writes what is left. It also
// runs the webhook's delivery, which it stops once its own last batch is
// handed over. Call it once, in its own goroutine.
func (w *Writer) Run(ctx context.Context) {
	defer close(w.done)
	if w.opts.Webhook != nil {
		hookStop, hookDone := make(chan struct{}), make(chan struct{})
		go func() { defer close(hookDone); w.opts.Webhook.run(ctx, hookStop) }()
		defer func() { close(hookStop); <-hookDone }()
	}
	w.loop(ctx)
}

// loop takes the queue in batches until Close or ctx ends. It wakes on its
// tick or when a whole batch is waiting, never per event: under load a
// wake-up per event costs the request goroutines a scheduler round trip
// each (BenchmarkClientCredentialsAudit/parallel).
func (w *Writer) loop(ctx context.Context) {
	tick := time.NewTicker(w.opts.FlushEvery)
	defer tick.Stop()
	batch := make([]Event, 0, w.opts.Batch)
	for {
		select {
		case <-tick.C:
			batch = w.drain(ctx, batch)
		case <-w.full:
			batch = w.take(ctx, batch)
		case <-w.closing:
			w.drain(ctx, batch)
			return
		case <-ctx.Done():
			w.drain(context.WithoutCancel(ctx), batch)
			return
		}
	}
}

// take writes the whole batches that are queued and keeps the rest in
// batch for the next wake-up.
func (w *Writer) take(ctx context.Context, batch []Event) []Event {
	for {
		select {
		case e := <-w.queue:
			if batch = append(batch, e); len(batch) >= w.opts.Batch {
				batch = w.flush(ctx, batch)
			}
		default:
			return batch
		}
	}
}

// drain writes what is queued, in batches, and returns batch emptied.
func (w *Writer) drain(ctx context.Context, batch []Event) []Event {
	return w.flush(ctx, w.take(ctx, batch))
}

// Close stops taking events and waits, until ctx ends, for Run to write
// those already queued (and for the webhook to deliver what it holds).
func (w *Writer) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.closed.Store(true)
		close(w.closing)
	})
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: close: events still queued: %w", ctx.Err())
	}
}

// flush stores, logs and forwards batch, and returns it emptied.
func (w *Writer) flush(ctx context.Context, batch []Event) []Event {
	if len(batch) == 0 {
		return batch
	}
	rows := make([]store.AuditEvent, len(batch))
	for i, e := range batch {
		e = Sanitize(e)
		if e.Time.IsZero() {
			e.Time = w.opts.Now()
		}
		batch[i] = e
		rows[i] = toRecord(e)
		w.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "audit", slog.Any("event", e))
	}
	if err := w.store(ctx, rows); err != nil {
		w.m.dropped.WithLabelValues("store").Add(float64(len(rows)))
		w.opts.Logger.ErrorContext(ctx, "audit: events not stored", "events", len(rows), "err", err)
	} else {
		w.m.stored.Add(float64(len(rows)))
	}
	if w.opts.Webhook != nil {
		w.opts.Webhook.enqueue(rows)
	}
	return batch[:0]
}

// store appends rows, retrying a store that is unavailable a few times.
func (w *Writer) store(ctx context.Context, rows []store.AuditEvent) error {
	if w.opts.Sink == nil {
		return nil
	}
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := w.opts.Sink.AppendAuditEvents(ctx, rows)
		if err == nil || attempt == 3 || !errors.Is(err, store.ErrUnavailable) {
			return err
		}
		select {
		case <-time.After(wait):
			wait *= 4
		case <-ctx.Done():
			return err
		}
	}
}

// toRecord is e as the store keeps it.
func toRecord(e Event) store.AuditEvent {
	return store.AuditEvent{Time: e.Time, Type: string(e.Type), Actor: e.Actor, ClientID: e.ClientID,
		UserID: e.UserID, IP: e.IP, Reason: e.Reason, Details: e.Details}
}

// writerMetrics are the Writer's Prometheus collectors.
type writerMetrics struct {
	stored    prometheus.Counter
	delivered prometheus.Counter
	dropped   *prometheus.CounterVec
}

func newWriterMetrics(reg prometheus.Registerer) (*writerMetrics, error) {
	m := &writerMetrics{
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latchkey_audit_events_total", Help: "Audit events stored.",
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latchkey_audit_webhook_delivered_total", Help: "Audit events delivered to the webhook.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_audit_dropped_total",
			Help: "Audit events dropped: queue full or closed (queue), store failed (store), webhook queue full or delivery given up (webhook).",
		}, []string{"sink"}),
	}
	for _, sink := range []string{"queue", "store", "webhook"} {
		m.dropped.WithLabelValues(sink) // exported at 0 before the first drop
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.stored, m.delivered, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("audit: register metrics: %w", err)
		}
	}
	return m, nil
}
