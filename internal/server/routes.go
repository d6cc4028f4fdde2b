package server

import (
	"net/http"

	"github.com/latchkey/latchkey/internal/web"
)

// routes lists every endpoint. Everything lives under the issuer's path;
// RFC 8414's metadata URL inserts the well-known segment before it.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	p := s.prefix
	mux.Handle(p+"/token", s.cors(s.oauthJSON(http.MethodPost, s.handleToken)))
	mux.Handle(p+"/introspect", s.oauthJSON(http.MethodPost, s.handleIntrospect))
	mux.Handle(p+"/revoke", s.cors(s.oauthJSON(http.MethodPost, s.handleRevoke)))
	mux.Handle("/.well-known/oauth-authorization-server"+p, s.readOnly(s.handleMetadata))
	mux.Handle(p+"/.well-known/openid-configuration", s.readOnly(s.handleMetadata))
	mux.Handle(p+"/jwks", s.readOnly(s.handleJWKS))
	mux.HandleFunc(p+"/authorize", s.handleAuthorize)
	mux.HandleFunc(p+"/login", s.handleLogin)
	mux.HandleFunc(p+"/consent", s.handleConsent)
	mux.HandleFunc(p+"/logout", s.handleLogout)
	mux.HandleFunc(p+"/userinfo", s.handleUserinfo)
	mux.Handle(p+"/assets/", http.StripPrefix(p+"/assets/", web.Static()))
	mux.Handle(p+"/healthz", s.readOnly(s.handleHealthz))
	mux.Handle(p+"/readyz", s.readOnly(s.handleReadyz))
	mux.Handle(p+"/metrics", s.readOnly(s.handleMetrics))
	return s.observe(mux)
}
