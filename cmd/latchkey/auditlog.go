package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
)

// auditFlushTimeout bounds how long stopping waits for queued audit
// events to reach the database and the webhook.
const auditFlushTimeout = 5 * time.Second

// startAudit returns the recorder cfg asks for and a stop function that
// flushes it: a running audit.Writer into st (and the webhook, when one is
// configured), or audit.Nop when audit is off. reg may be nil (the CLI).
func startAudit(ctx context.Context, cfg config.Config, st store.Store, reg prometheus.Registerer, log *slog.Logger) (audit.Recorder, func(), error) {
	if !cfg.Audit.Enabled {
		return audit.Nop{}, func() {}, nil
	}
	opts := audit.Options{Sink: st, Logger: log, Metrics: reg, Queue: cfg.Audit.Queue}
	if w := cfg.Audit.Webhook; w.URL != "" {
		hook, err := audit.NewWebhook(audit.WebhookOptions{
			URL: w.URL, Secret: []byte(w.Secret.Reveal()), Logger: log,
			Fetcher: safefetch.New(safefetch.Options{AllowLoopback: w.AllowLoopback}),
		})
		if err != nil {
			return nil, nil, err
		}
		opts.Webhook = hook
	}
	wr, err := audit.NewWriter(opts)
	if err != nil {
		return nil, nil, err
	}
	go wr.Run(context.WithoutCancel(ctx))
	stop := func() {
		flush, cancel := context.WithTimeout(context.Background(), auditFlushTimeout)
		defer cancel()
		if err := wr.Close(flush); err != nil {
			log.Warn("audit events lost at shutdown", "err", err)
		}
	}
	return wr, stop, nil
}

// pruneAudit removes stored audit events older than audit.retention in
// batches of gc.batch, until a batch comes back short, and reports how
// many it removed.
func pruneAudit(ctx context.Context, st store.Store, cfg config.Config, now time.Time) (int, error) {
	total := 0
	before := now.Add(-cfg.Audit.Retention.D())
	for {
		n, err := st.DeleteAuditEventsBefore(ctx, before, cfg.GC.Batch)
		total += n
		if err != nil || n < cfg.GC.Batch {
			return total, err
		}
	}
}
