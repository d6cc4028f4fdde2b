// Package storetrace wraps a store.Store so that every call of one of its
// methods is an OpenTelemetry span ("store.GetClient"), a child of the
// span in the caller's context: a token request's trace shows which
// store calls it made and how long each took. The server is given the
// wrapper only when tracing is on; with tracing off nothing is wrapped,
// so the store calls cost what they did.
package storetrace

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/store"
)

// scope names the instrumentation in the spans it makes.
const scope = "github.com/latchkey/latchkey/internal/store/storetrace"

// Store is a store.Store whose calls are spans.
type Store struct {
	st     store.Store
	tracer trace.Tracer
	// system is the db.system.name of the spans: sqlite or postgresql.
	system attribute.KeyValue
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.AdminStore = (*Store)(nil)
)

// New wraps st; system names the backend ("sqlite", "postgresql").
func New(st store.Store, tp trace.TracerProvider, system string) *Store {
	return &Store{st: st, tracer: tp.Tracer(scope), system: attribute.String("db.system.name", system)}
}

// Unwrap returns the wrapped store.
func (w *Store) Unwrap() store.Store { return w.st }

// start begins the span of one method call.
func (w *Store) start(ctx context.Context, method string) (context.Context, trace.Span) {
	return w.tracer.Start(ctx, "store."+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(w.system, attribute.String("db.operation.name", method)))
}

// end ends sp, marking it failed when err is a failure. ErrNotFound is an
// answer (no such client, code already gone), not a failure of the store.
func end(sp trace.Span, err error) {
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, err.Error())
	}
	sp.End()
}

// admin returns the wrapped store's admin side.
func (w *Store) admin() (store.AdminStore, error) {
	a, ok := w.st.(store.AdminStore)
	if !ok {
		return nil, fmt.Errorf("storetrace: %T has no admin side", w.st)
	}
	return a, nil
}
