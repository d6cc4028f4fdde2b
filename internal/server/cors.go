package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// originCache remembers, per Origin, whether it is the origin of a
// registered redirect URI. A browser application (an SPA, a public
// client) calls /token and /revoke from the origin it is redirected to, so
// those origins — and no others — may read the answers (RFC 9700 §2.6
// allows CORS there, S120; never on the authorization endpoint, A22).
// Each answer is one indexed lookup of the store, kept for metadataTTL;
// the map is bounded, so hostile Origin headers cost a lookup each and
// never unbounded memory.
type originCache struct {
	mu      sync.Mutex
	answers map[string]originAnswer
}

type originAnswer struct {
	ok bool
	at time.Time
}

// maxOrigins bounds the cache; when full it starts again empty.
const maxOrigins = 4096

// allowedOrigin reports whether origin is the origin of a registered
// redirect URI.
func (s *Server) allowedOrigin(ctx context.Context, origin string) bool {
	now := s.now()
	s.origins.mu.Lock()
	a, found := s.origins.answers[origin]
	s.origins.mu.Unlock()
	if found && now.Sub(a.at) < metadataTTL {
		return a.ok
	}
	uris, err := s.st.RedirectURIsOfOrigin(ctx, origin)
	if err != nil {
		return found && a.ok // keep the last answer while the store is away
	}
	ok := slices.ContainsFunc(uris, func(u string) bool { return originOf(u) == origin })
	s.origins.mu.Lock()
	if s.origins.answers == nil || len(s.origins.answers) >= maxOrigins {
		s.origins.answers = map[string]originAnswer{}
	}
	s.origins.answers[origin] = originAnswer{ok: ok, at: now}
	s.origins.mu.Unlock()
	return ok
}

// originOf is the origin (scheme://host[:port]) of an http(s) URI, or "".
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// cors lets registered browser origins call an endpoint: it answers their
// preflight and names them in Access-Control-Allow-Origin. Credentials
// (cookies) are never allowed: clients authenticate in the request itself.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !s.allowedOrigin(r.Context(), origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After, DPoP-Nonce") // S177
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", http.MethodPost)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
