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
	rec audit.Recorder, log *slog.Logger) (http.Handler, func(), error) {
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
	if cfg.Admin.Listen == "" {
		log.Info("serving the admin API on the main listener", "path", admin.Prefix)
		return admin.Mount(oauth, api), api.Close, nil
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
		if err := listenAndServe(ctx, api, ln, cfg, adminLog, stopping{}); err != nil && !errors.Is(err, context.Canceled) {
			adminLog.Error("admin listener stopped", "err", err)
		}
	}()
	return oauth, func() {
		cancel()
		<-done
		api.Close()
	}, nil
}
