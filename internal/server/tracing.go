package server

import (
	"context"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// scope names the server's instrumentation in the spans it makes.
const scope = "github.com/latchkey/latchkey/internal/server"

// noSpan is what span returns with tracing off: every method a no-op.
var noSpan = trace.SpanFromContext(context.Background())

// span starts a child of ctx's span when tracing is on. With tracing off
// it returns ctx and noSpan, so a traced step costs nothing then.
func (s *Server) span(ctx context.Context, name string) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, noSpan
	}
	return s.tracer.Start(ctx, name)
}

// endSpan ends sp, marking it failed when err is set.
func endSpan(sp trace.Span, err error) {
	if err != nil {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, err.Error())
	}
	sp.End()
}

// traced wraps h in otelhttp's server span when tracing is on: a caller's
// W3C traceparent is continued, and the span ends with the response. With
// tracing off h is returned unwrapped.
func (s *Server) traced(h http.Handler) http.Handler {
	if s.tracer == nil {
		return h
	}
	th := otelhttp.NewHandler(h, "latchkey",
		otelhttp.WithTracerProvider(s.tracerProvider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		// Request metrics are Prometheus's (metrics.go); none from otelhttp.
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A mux in front (the admin API's mount) leaves its pattern on r,
		// and otelhttp would rename the span after it, over traceRequest's.
		if r.Pattern != "" {
			r = r.WithContext(r.Context())
			r.Pattern = ""
		}
		th.ServeHTTP(w, r)
	})
}

// traceRequest names the request's server span after its route, which the
// mux knows only after otelhttp started the span, and returns the log
// attributes that tie the request's log line to its trace.
func traceRequest(r *http.Request, endpoint string, attrs []slog.Attr) []slog.Attr {
	sp := trace.SpanFromContext(r.Context())
	sc := sp.SpanContext()
	if !sc.IsValid() {
		return attrs
	}
	if r.Pattern != "" {
		sp.SetName(r.Method + " " + endpoint)
		sp.SetAttributes(attribute.String("http.route", r.Pattern))
	}
	return append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
}
