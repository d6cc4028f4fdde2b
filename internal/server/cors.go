package server

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// originCache holds the origins of every registered redirect URI. A
// browser application (an SPA, a public client) calls /token and /revoke
// from the origin it is redirected to, so those origins — and no others —
// may read the answers (RFC 9700 §2.6 allows CORS there, S120; never on
// the authorization endpoint, A22). It is rebuilt like the metadata.
type originCache struct {
	mu    sync.Mutex
	set   map[string]bool
	built time.Time
}

// allowedOrigin reports whether origin is the origin of a registered
// redirect URI.
func (s *Server) allowedOrigin(ctx context.Context, origin string) bool {
	s.origins.mu.Lock()
	defer s.origins.mu.Unlock()
	now := s.now()
	if s.origins.set == nil || now.Sub(s.origins.built) >= metadataTTL {
		clients, err := s.st.ListClients(ctx)
		if err != nil {
			return s.origins.set[origin] // keep the last set while the store is away
		}
		set := map[string]bool{}
		for _, c := range clients {
			for _, u := range c.RedirectURIs {
				if o := originOf(u); o != "" {
					set[o] = true
				}
			}
		}
		s.origins.set, s.origins.built = set, now
	}
	return s.origins.set[origin]
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
