package server

import (
	"context"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
)

// handleHealthz answers while the process is alive.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
	return nil
}

// handleReadyz answers 200 while the store is reachable and 503 otherwise,
// so a load balancer stops sending requests to an instance that cannot
// serve them. From Drain on it answers 503 whatever the store.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
		return nil
	}
	if err := s.st.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("store unavailable\n"))
		return nil
	}
	_, _ = w.Write([]byte("ready\n"))
	return nil
}

// handleMetrics serves the registry the server was given.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.gatherer == nil {
		return &protocol.Error{Code: protocol.ErrInvalidRequest, Status: http.StatusNotFound,
			Description: "this server was not given a metrics registry to serve"}
	}
	s.promHandler.ServeHTTP(w, r)
	return nil
}

// Drain makes /readyz answer 503 from now on, while every endpoint goes on
// serving: the instance is about to stop, and load balancers that poll
// /readyz take it out of rotation before its listener closes.
func (s *Server) Drain() { s.draining.Store(true) }
