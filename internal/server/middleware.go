package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// reqInfo collects what one request's log line and metrics report; handlers
// fill it in as they learn the client and the grant.
type reqInfo struct {
	clientID  string
	grantType string
	errCode   string
	// issued describes the access token the request minted, for audit.
	issued *issuedToken
}

// issuedToken identifies a minted access token without its value.
type issuedToken struct {
	jti, grantID, subject, userID string
	scopes                        []string
}

type infoKey struct{}

func info(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(infoKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe wraps every request: panics become a logged server_error, the
// response gets nosniff, and one log line and the metrics record it. The
// log line names the path only: queries and bodies may carry codes and
// secrets (S128).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, ri))
		sw.Header().Set("X-Content-Type-Options", "nosniff")
		if s.secure(r) {
			sw.Header().Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					protocol.WriteError(sw, &protocol.Error{Code: protocol.ErrServerError})
				}
			}
			s.record(r, sw.status, ri, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

func (s *Server) record(r *http.Request, status int, ri *reqInfo, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	endpoint := strings.TrimPrefix(r.Pattern, s.prefix)
	if endpoint == "" {
		endpoint = "other"
	}
	s.metrics.observe(endpoint, status, ri.errCode, d)
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", d),
	}
	if ri.clientID != "" {
		attrs = append(attrs, slog.String("client_id", ri.clientID))
	}
	if ri.grantType != "" {
		attrs = append(attrs, slog.String("grant_type", ri.grantType))
	}
	if ri.errCode != "" {
		attrs = append(attrs, slog.String("error", ri.errCode))
	}
	if s.tracer != nil {
		attrs = traceRequest(r, endpoint, attrs)
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// oauthJSON adapts a handler of an OAuth JSON endpoint: any other method
// gets 405 in RFC JSON (S013), and a returned error is written once, as
// an RFC 6749 §5.2 error.
func (s *Server) oauthJSON(method string, fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != method {
			return notAllowed(w, method)
		}
		return fn(w, r)
	})
}

// api adapts a JSON endpoint that checks its own methods: a returned
// error is written once, by writeError.
func (s *Server) api(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// readOnly adapts a GET endpoint: HEAD is served too, other methods get
// the same 405 as the OAuth endpoints.
func (s *Server) readOnly(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return notAllowed(w, "GET, HEAD")
		}
		return fn(w, r)
	})
}

// notAllowed sets Allow and returns the 405 error of a JSON endpoint.
func notAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return &protocol.Error{Code: protocol.ErrInvalidRequest,
		Description: "the endpoint accepts " + allow + " only", Status: http.StatusMethodNotAllowed}
}

// writeError writes err as an OAuth error. Anything that is not a
// *protocol.Error is logged once and becomes server_error, or
// temporarily_unavailable (503, S074) when the store cannot be reached.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.classify(r.Context(), err)
	info(r.Context()).errCode = e.Code
	protocol.WriteError(w, e)
}

func (s *Server) classify(ctx context.Context, err error) *protocol.Error {
	if e := protocol.AsError(err); e != nil {
		return e
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		s.log.WarnContext(ctx, "store unavailable", "err", err)
		return &protocol.Error{Code: protocol.ErrTemporarilyUnavailable,
			Description: "the service is temporarily unavailable; retry shortly", RetryAfter: time.Second}
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The client went away mid-request (its connection closed): no
		// fault of the server's, so no 5xx in the metrics and no error in
		// the log. 499 is the status proxies log for it; nobody reads it.
		s.log.InfoContext(ctx, "request canceled by the client", "err", err)
		return &protocol.Error{Code: protocol.ErrInvalidRequest, Description: "the client closed the request",
			Status: statusClientClosed}
	}
	s.log.ErrorContext(ctx, "internal error", "err", err)
	return &protocol.Error{Code: protocol.ErrServerError}
}

// statusClientClosed is nginx's 499 Client Closed Request.
const statusClientClosed = 499

// clientIP is the address rate limits count against: the peer, or, when the
// peer is a trusted proxy, the nearest untrusted address in
// X-Forwarded-For (S131, A21).
func (s *Server) clientIP(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if !s.trusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		addr = addr.Unmap()
		if !s.trusted(addr) {
			return addr
		}
		peer = addr
	}
	return peer
}

// secure reports whether the request reached us over https, directly or
// through a trusted proxy's X-Forwarded-Proto.
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.trusted(remoteAddr(r)) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *Server) trusted(addr netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap()
}
