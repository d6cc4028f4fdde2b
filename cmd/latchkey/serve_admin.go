package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store/readcache"
)

// startAdmin builds the admin API when admin.enabled is set: mounted on
// the main handler (returned) or, with admin.listen, served on a listener
// of its own until ctx ends (the main handler is returned unchanged).
// stop releases it.
func startAdmin(ctx context.Context, cfg config.Config, srv *server.Server, oauth http.Handler, st *readcache.Store, km *keys.Manager,
	rec audit.Recorder, log *slog.Logger, tp trace.TracerProvider) (http.Handler, func(), error) {
	if !cfg.Admin.Enabled {
		return oauth, func() {}, nil
	}
	api, err := admin.New(ctx, admin.Deps{
		Issuer: cfg.IssuerURL(), OAuth: oauth, Store: st, Keys: km, Sessions: srv, Logger: log, Audit: rec,
		Passwords: hashParams(cfg), Now: time.Now, Rand: rand.Reader,
	})
	if err != nil {
		return nil, nil, err
	}
	var h http.Handler = api
	if tp != nil {
		// The admin API's store calls are spans too: give them a parent.
		h = otelhttp.NewHandler(api, "latchkey admin",
			otelhttp.WithTracerProvider(tp),
			otelhttp.WithPropagators(propagation.TraceContext{}),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + admin.Prefix }))
	}
	if cfg.Admin.Listen == "" {
		log.Info("serving the admin API on the main listener", "path", admin.Prefix)
		return admin.Mount(oauth, h), api.Close, nil
	}
	ln, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		api.Close()
		return nil, nil, fmt.Errorf("admin.listen %s: %w", cfg.Admin.Listen, err)
	}
	adminLog := log.With("listener", "admin")
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := listenAndServe(ctx, h, ln, cfg, adminLog, stopping{}); err != nil && !errors.Is(err, context.Canceled) {
			adminLog.Error("admin listener stopped", "err", err)
		}
	}()
	return oauth, func() {
		cancel()
		<-done
		api.Close()
	}, nil
}
