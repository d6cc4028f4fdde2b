package main

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

// runGC removes expired rows and audit events past audit.retention now, in batches of gc.batch rows per kind,
// until a batch comes back short (serve does the same every gc.interval):
// for a cron job, or to clean up at once after an outage or an import.
func runGC(ctx context.Context, args []string, e env) error {
	fs := newFlags("gc", "gc [--config FILE] [--storage URL]", "latchkey gc --config latchkey.yaml", e.stdout)
	var cf configFlags
	cf.register(fs)
	if done, err := parse(fs, args); done {
		return err
	}
	return withStore(ctx, &cf, e, func(cfg config.Config, st store.Store, _ []string) error {
		total := 0
		for {
			n, err := st.DeleteExpired(ctx, time.Now(), cfg.GC.Batch)
			total += n
			if err != nil {
				return fmt.Errorf("gc: removed %d expired rows, then: %w", total, err)
			}
			if n < cfg.GC.Batch {
				break
			}
		}
		events, err := pruneAudit(ctx, st, cfg, time.Now())
		if err != nil {
			return fmt.Errorf("gc: removed %d expired rows and %d audit events, then: %w", total, events, err)
		}
		fmt.Fprintf(e.stdout, "removed %d expired rows\n", total)
		fmt.Fprintf(e.stdout, "removed %d audit events older than %s (audit.retention)\n", events, cfg.Audit.Retention)
		return nil
	})
}
