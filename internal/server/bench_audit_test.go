package server_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/server"
)

// BenchmarkClientCredentialsAudit is BenchmarkClientCredentialsJWT with
// audit off (audit.Nop) and on (a Writer batching into the fixture's
// SQLite file and writing a JSON log line per event), to show that the
// audit trail costs the token endpoint almost nothing: the request only
// queues the event; the store write happens in batches on another
// goroutine. The bar is on ≥ 0.95× off.
//
//	go test ./internal/server -run '^$' -bench 'ClientCredentialsAudit' -benchmem -count 6
func BenchmarkClientCredentialsAudit(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchCC(b, newBenchFixture(b)) })
	b.Run("on", func(b *testing.B) {
		var w *audit.Writer
		f := newBenchFixtureWith(b, func(c *server.Config) {
			c.Audit = audit.RecorderFunc(func(ctx context.Context, e audit.Event) { w.Record(ctx, e) })
		})
		var err error
		w, err = audit.NewWriter(audit.Options{Sink: f.Store, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		go w.Run(context.Background())
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := w.Close(ctx); err != nil {
				b.Error(err)
			}
		}()
		benchCC(b, f)
	})
}

func benchCC(b *testing.B, f benchFixture) {
	form := formOf("grant_type", "client_credentials")
	b.ReportAllocs()
	for b.Loop() {
		f.serve(b, "/token", "jwt", form)
	}
}
