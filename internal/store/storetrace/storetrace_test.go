package storetrace_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/store/storetrace"
)

func open(t testing.TB, tp *sdktrace.TracerProvider) *storetrace.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return storetrace.New(s, tp, "sqlite")
}

// TestConformance runs the store suite through the wrapper: every method
// passes its arguments and results through unchanged.
func TestConformance(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { tp.Shutdown(t.Context()) })
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, tp) })
}

// TestSpans checks what a trace shows of a store call: a child of the
// caller's span named after the method, with the backend, and failed only
// when the store failed (a missing row is an answer).
func TestSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	st := open(t, tp)
	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")
	now := time.Now()
	if err := st.CreateClient(ctx, store.Client{ID: "app", Name: "App", GrantTypes: []string{"client_credentials"},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetClient(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetClient(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetClient(nobody) = %v, want ErrNotFound", err)
	}
	if err := st.CreateClient(ctx, store.Client{ID: "app", CreatedAt: now, UpdatedAt: now}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second CreateClient = %v, want ErrConflict", err)
	}
	parent.End()

	spans := rec.Ended()
	want := []struct {
		name   string
		status codes.Code
	}{
		{"store.CreateClient", codes.Unset},
		{"store.GetClient", codes.Unset},
		{"store.GetClient", codes.Unset},
		{"store.CreateClient", codes.Error},
		{"request", codes.Unset},
	}
	if len(spans) != len(want) {
		t.Fatalf("got %d spans, want %d", len(spans), len(want))
	}
	for i, w := range want {
		sp := spans[i]
		if sp.Name() != w.name || sp.Status().Code != w.status {
			t.Errorf("span %d = %s (%v), want %s (%v)", i, sp.Name(), sp.Status().Code, w.name, w.status)
		}
		if w.name == "request" {
			continue
		}
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() || sp.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span %s is not a child of the caller's span", sp.Name())
		}
		if !hasAttr(sp.Attributes(), attribute.String("db.system.name", "sqlite")) {
			t.Errorf("span %s lacks db.system.name=sqlite: %v", sp.Name(), sp.Attributes())
		}
	}
}

func hasAttr(attrs []attribute.KeyValue, kv attribute.KeyValue) bool {
	for _, a := range attrs {
		if a == kv {
			return true
		}
	}
	return false
}
