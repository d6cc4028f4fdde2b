package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/exaring/otelpgx"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/storetrace"
)

// TestQueriesAreSpans: with Options.Tracer (otelpgx) and storetrace, a
// store call is a span whose children are its queries, with their SQL and
// without their arguments.
func TestQueriesAreSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	opts := testOptions()
	opts.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp))
	pg, err := postgres.Open(t.Context(), pgtest.DSN(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	st := storetrace.New(pg, tp, "postgresql")
	now := time.Now()
	const id = "traced-client-7f3a"
	if err := st.CreateClient(t.Context(), store.Client{ID: id, Name: "Traced", GrantTypes: []string{"client_credentials"},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")
	if _, err := st.GetClient(ctx, id); err != nil {
		t.Fatal(err)
	}
	parent.End()

	var get sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.Name() == "store.GetClient" {
			get = sp
		}
	}
	if get == nil || get.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("no store.GetClient span under the caller's")
	}
	queries := 0
	for _, sp := range rec.Ended() {
		if sp.Parent().SpanID() != get.SpanContext().SpanID() {
			continue
		}
		for _, a := range sp.Attributes() {
			switch {
			case a.Key == "db.query.text":
				queries++
				if !strings.Contains(a.Value.AsString(), "FROM clients") {
					t.Errorf("query span %s has SQL %q, want the clients query", sp.Name(), a.Value.AsString())
				}
			case strings.Contains(a.Value.Emit(), id):
				t.Errorf("span %s carries the query's argument in %s", sp.Name(), a.Key)
			}
		}
	}
	if queries == 0 {
		t.Errorf("no query span under store.GetClient")
	}
}
