package server_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
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
//	go test ./internal/server -run '^$' -bench 'ClientCredentialsAudit/parallel' -benchmem -count 6
func BenchmarkClientCredentialsAudit(b *testing.B) {
	for _, mode := range []struct {
		name string
		run  func(*testing.B, benchFixture)
	}{{"serial", benchCC}, {"parallel", benchCCParallel}} {
		b.Run(mode.name+"/off", func(b *testing.B) { mode.run(b, newBenchFixture(b)) })
		b.Run(mode.name+"/on", func(b *testing.B) {
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
			mode.run(b, f)
		})
	}
}

// benchCCParallel keeps every core busy with token requests, so the
// writer goroutine competes with them as it does in a loaded server: its
// ns/op beside off's is the throughput audit costs, cpu-ns/op the process
// CPU time per request (steadier when other work shares the machine).
func benchCCParallel(b *testing.B, f benchFixture) {
	form := formOf("grant_type", "client_credentials").Encode()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("jwt")+":"+url.QueryEscape(f.secrets["jwt"])))
	cpu0 := processCPU(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", auth)
			rec := httptest.NewRecorder()
			f.Server.Config.Handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("token: %d %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchCC(b *testing.B, f benchFixture) {
	form := formOf("grant_type", "client_credentials")
	b.ReportAllocs()
	for b.Loop() {
		f.serve(b, "/token", "jwt", form)
	}
}
