// Package tracing builds the OpenTelemetry tracer provider that serve
// gives the server and the store when tracing.otlp_endpoint is set: spans
// are batched and POSTed to the collector's /v1/traces (OTLP over HTTP,
// protobuf). With no endpoint there is no provider at all, and nothing on
// a request's path knows about tracing.
package tracing

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/latchkey/latchkey/internal/config"
)

// New returns the provider exporting to cfg.OTLPEndpoint, or nil when it
// is empty. Sampling is cfg.SampleRatio of new traces; a request whose
// caller sent a traceparent keeps the caller's decision. Shut the
// provider down after the last request to send the spans still batched.
func New(ctx context.Context, cfg config.Tracing, version string) (*sdktrace.TracerProvider, error) {
	if cfg.OTLPEndpoint == "" {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(TracesURL(cfg.OTLPEndpoint)))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(version))
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	), nil
}

// TracesURL is where spans go: the endpoint's /v1/traces, as for
// OTEL_EXPORTER_OTLP_ENDPOINT.
func TracesURL(endpoint string) string {
	return strings.TrimSuffix(endpoint, "/") + "/v1/traces"
}
