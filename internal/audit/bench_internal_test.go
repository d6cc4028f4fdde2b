package audit

import (
	"io"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// BenchmarkWriterFlush is the writer goroutine's whole cost per event, as
// a server with audit on pays it beside its requests: sanitize, one JSON
// log line, and the event's share of one batched SQLite transaction
// (log-only leaves the store out).
//
//	go test ./internal/audit -run '^$' -bench WriterFlush -benchmem
func BenchmarkWriterFlush(b *testing.B) {
	for _, sink := range []string{"log-only", "sqlite"} {
		b.Run(sink, func(b *testing.B) {
			o := Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			if sink == "sqlite" {
				st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "latchkey.db"))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				o.Sink = st
			}
			w, err := NewWriter(o)
			if err != nil {
				b.Fatal(err)
			}
			batch := make([]Event, 0, DefaultBatch)
			cpu0 := processCPU(b)
			b.ReportAllocs()
			for b.Loop() {
				for range DefaultBatch {
					batch = append(batch, Event{Type: TokenIssued, Actor: "client:svc", ClientID: "svc", IP: "192.0.2.1",
						Details: map[string]string{"grant_type": "client_credentials", "jti": "5f0c2b9d8e7a4c1b9f3e2d1c0b9a8f7e", "scope": "read"}})
				}
				batch = w.flush(b.Context(), batch)
			}
			events := float64(b.N * DefaultBatch)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
			// CPU time holds still when other processes share the cores.
			b.ReportMetric(float64(processCPU(b)-cpu0)/events, "cpu-ns/event")
		})
	}
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
