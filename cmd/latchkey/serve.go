package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/readcache"
	"github.com/latchkey/latchkey/internal/store/storetrace"
	"github.com/latchkey/latchkey/internal/tracing"
)

const serveExample = `latchkey serve --dev
latchkey serve --config latchkey.yaml --listen 0.0.0.0:8443`

func runServe(ctx context.Context, args []string, e env) error {
	fs := newFlags("serve", "serve [--config FILE] [--dev] [--listen ADDR] [--issuer URL] [--storage URL]", serveExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	dev := fs.Bool("dev", false, "create demo clients and a demo user (once) and print how to use them")
	if done, err := parse(fs, args); done {
		return err
	}
	cfg, err := cf.load(e)
	if err != nil {
		return err
	}
	// The server's live heap is a few MiB, so at Go's default GOGC=100 the
	// collector runs about a hundred times a second under load, shrinking
	// and regrowing every handler's stack each time. GOGC=200 halves that
	// for a few MiB of resident memory (docs/performance.md: +30% client
	// credentials at concurrency 64, 31 → 35 MiB). GOGC in the environment
	// still decides.
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	// A line per request: written in batches under load (logbatch.go).
	logOut := newLogBatcher(e.stderr)
	defer logOut.Close()
	log := newLoggerOn(cfg, e.stderr, logOut)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	if cfg.Issuer == "" {
		scheme := "http"
		if cfg.TLS.CertFile != "" {
			scheme = "https"
		}
		cfg.Issuer = scheme + "://" + ln.Addr().String()
	}
	return serve(ctx, cfg, ln, *dev, e, log)
}

func serve(ctx context.Context, cfg config.Config, ln net.Listener, dev bool, e env, log *slog.Logger) error {
	tp, err := tracing.New(ctx, cfg.Tracing, version())
	if err != nil {
		return err
	}
	// Tracing off leaves tracer nil: no SDK, no otelhttp, no storetrace.
	var tracer trace.TracerProvider
	if tp != nil {
		tracer = tp
		defer flushTraces(tp, log) // after the listener has drained
		log.Info("exporting traces", "otlp_url", tracing.TracesURL(cfg.Tracing.OTLPEndpoint),
			"service_name", cfg.Tracing.ServiceName, "sample_ratio", cfg.Tracing.SampleRatio)
	}
	st, applied, err := openTracedStore(ctx, cfg, tracer)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, m := range applied {
		log.Info("applied migration", "name", m)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec, stopAudit, err := startAudit(ctx, cfg, st, reg, log)
	if err != nil {
		return err
	}
	defer stopAudit() // after the listener has drained: the last requests' events are queued
	km, secret, err := startKeys(ctx, cfg, st, rec, log)
	if err != nil {
		return err
	}
	if _, err := syncConfig(ctx, st, cfg, secret, log); err != nil {
		return err
	}
	if dev {
		d, err := ensureDev(ctx, st, secret, hashParams(cfg))
		if err != nil {
			return err
		}
		cfg.Registration = devRegistration(cfg.Registration)
		printDev(e.stdout, cfg.Issuer, d)
		printDevRegistration(e.stdout, cfg)
	}
	scfg, err := serverConfig(cfg)
	if err != nil {
		return err
	}
	scfg.Audit = rec
	var served store.Store = st
	if tracer != nil {
		served = storetrace.New(st, tracer, storeSystem(cfg))
	}
	cached := readcache.New(served, readcache.Options{TTL: cfg.Database.CacheTTL.D()})
	stopWatching := watchChanges(ctx, st, cached.Purge, log)
	defer stopWatching()
	srv, h, err := server.NewServer(server.Deps{
		Config: scfg, Store: cached, Keys: km, Logger: log, Metrics: reg, SystemSecret: secret, Now: time.Now, Rand: rand.Reader,
		Tracing: tracer,
	})
	if err != nil {
		return err
	}
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	h, stopAdmin, err := startAdmin(bg, cfg, srv, h, cached, km, rec, log, tracer)
	if err != nil {
		return err
	}
	defer stopAdmin()
	go km.Run(bg, cfg.Keys.ReloadInterval.D(), cfg.Keys.RotationPeriod.D())
	go collectGarbage(bg, st, cfg, log)
	if cfg.Debug.PprofListen != "" {
		if err := servePprof(bg, cfg.Debug.PprofListen, log); err != nil {
			return err
		}
	}
	// Start-up scratch memory (the 19 MiB argon2id hash that equalises
	// unknown-user timing, key generation) goes back to the OS now, so an
	// idle server's resident set is what it really needs.
	debug.FreeOSMemory()
	return listenAndServe(ctx, h, ln, cfg, log, stopping{grace: cfg.ShutdownGrace.D(), drain: srv.Drain})
}

// flushTraces sends the spans still batched and stops the exporter.
func flushTraces(tp *sdktrace.TracerProvider, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		log.Warn("traces lost at shutdown", "err", err)
	}
}

// watchChanges calls purge whenever the store announces a change made by
// any instance or the CLI (PostgreSQL), so the read cache drops what it
// holds at once. A store that announces nothing (SQLite) is not watched:
// its cache entries expire within database.cache_ttl. stop ends the watch.
func watchChanges(ctx context.Context, st store.Store, purge func(), log *slog.Logger) (stop func()) {
	w, ok := st.(store.ChangeWatcher)
	if !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.WatchChanges(ctx, purge, func(err error) {
			log.Warn("not listening for changes made by other instances; caches expire within database.cache_ttl", "err", err)
		})
	}()
	return func() {
		cancel()
		<-done
	}
}

// servePprof serves Go's profiles on addr, apart from the OAuth
// listener, until ctx ends.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug.pprof_listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof listener stopped", "err", err)
		}
	}()
	log.Warn("serving Go profiles; keep this address private", "pprof_addr", ln.Addr().String())
	return nil
}

// stopping is how a listener ends once serve's context has. drain, when
// set, makes /readyz answer 503. After SIGTERM the listener serves on,
// new requests too, for grace (shutdown_grace), so that load balancers
// polling /readyz stop sending requests before it closes; a second signal
// ends the grace. After SIGINT or a cancelled context it closes at once.
type stopping struct {
	grace time.Duration
	drain func()
}

// terminated returns the SIGTERM that ended ctx, if one did.
func terminated(ctx context.Context) (stopSignal, bool) {
	var sig stopSignal
	return sig, errors.As(context.Cause(ctx), &sig) && sig.Signal == syscall.SIGTERM
}

// listenAndServe serves until ctx ends and, after SIGTERM, for the grace
// of stop; then it shuts down gracefully: new connections are refused and
// requests in flight get up to 10 seconds.
func listenAndServe(ctx context.Context, h http.Handler, ln net.Listener, cfg config.Config, log *slog.Logger, stop stopping) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLS.CertFile != "" {
			errc <- srv.ServeTLS(ln, cfg.TLS.CertFile, cfg.TLS.KeyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
	log.Info("listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "storage", cfg.Storage)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if stop.drain != nil {
		stop.drain()
	}
	if sig, ok := terminated(ctx); ok && stop.grace > 0 {
		log.Info("draining: /readyz answers 503, requests are still served", "grace", stop.grace.String())
		t := time.NewTimer(stop.grace)
		select {
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		case <-sig.again:
			t.Stop()
			log.Info("a second signal: ending the grace")
		case <-t.C:
		}
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// sleepCtx waits d, or until ctx ends, and reports whether it waited.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// collectGarbage removes expired rows in small batches on a schedule.
func collectGarbage(ctx context.Context, st store.Store, cfg config.Config, log *slog.Logger) {
	t := time.NewTicker(cfg.GC.Interval.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			start := time.Now()
			n, err := st.DeleteExpired(ctx, start, cfg.GC.Batch)
			if err != nil {
				log.Warn("garbage collection failed", "err", err)
				break
			}
			if n > 0 {
				log.Debug("removed expired rows", "count", n, "took", time.Since(start))
			}
			if n < cfg.GC.Batch {
				break
			}
			// A backlog (after an outage, an import, a first start on a big
			// database) is worked off at half the writer's time at most:
			// requests waiting for the writer go between two batches.
			if !sleepCtx(ctx, time.Since(start)) {
				return
			}
		}
		if n, err := pruneAudit(ctx, st, cfg, time.Now()); err != nil {
			log.Warn("audit retention failed", "err", err)
		} else if n > 0 {
			log.Debug("removed audit events past retention", "count", n)
		}
	}
}
