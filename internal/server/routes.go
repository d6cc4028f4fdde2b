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
	mux.Handle(p+"/par", s.cors(s.oauthJSON(http.MethodPost, s.handlePAR)))
	mux.Handle(p+"/device_authorization", s.cors(s.oauthJSON(http.MethodPost, s.handleDeviceAuthorization)))
	mux.Handle(p+"/introspect", s.oauthJSON(http.MethodPost, s.handleIntrospect))
	mux.Handle(p+"/revoke", s.cors(s.oauthJSON(http.MethodPost, s.handleRevoke)))
	mux.Handle(p+"/userinfo", s.api(s.handleUserinfo))
	if s.cfg.Registration.Enabled {
		mux.Handle(p+"/register", s.oauthJSON(http.MethodPost, s.handleRegister))
		mux.Handle(p+"/register/{id}", s.api(s.handleClientConfiguration))
	}
	mux.Handle("/.well-known/oauth-authorization-server"+p, s.readOnly(s.handleMetadata))
	mux.Handle(p+"/.well-known/openid-configuration", s.readOnly(s.handleMetadata))
	mux.Handle(p+"/jwks", s.readOnly(s.handleJWKS))
	mux.Handle(p+"/authorize", s.page("GET, HEAD, POST", authorizeNotAllowed(), s.handleAuthorize))
	mux.Handle(p+"/login", s.page(http.MethodPost, formOnly("the sign-in form"), s.handleLogin))
	mux.Handle(p+"/login/mfa", s.page(http.MethodPost, formOnly("the two-step verification form"), s.handleLoginMFA))
	mux.Handle(p+"/login/enrol", s.page(http.MethodPost, formOnly("the two-step verification form"), s.handleLoginEnrol))
	mux.Handle(p+"/login/passkey/begin", s.oauthJSON(http.MethodPost, s.handlePasskeyLoginBegin))
	mux.Handle(p+"/login/passkey", s.page(http.MethodPost, formOnly("the passkey sign-in form"), s.handlePasskeyLogin))
	mux.Handle(p+"/login/mfa/passkey/begin", s.oauthJSON(http.MethodPost, s.handleMFAPasskeyBegin))
	mux.Handle(p+"/login/mfa/passkey", s.page(http.MethodPost, formOnly("the two-step verification form"), s.handleMFAPasskey))
	mux.Handle(p+"/account/passkeys/begin", s.oauthJSON(http.MethodPost, s.handleAccountPasskeyBegin))
	mux.Handle(p+"/account/passkeys", s.page(http.MethodPost, formOnly("the passkey form"), s.handleAccountPasskey))
	mux.Handle(p+"/account/passkeys/remove", s.page(http.MethodPost, formOnly("the passkey form"), s.handleAccountPasskeyRemove))
	mux.Handle(p+"/consent", s.page(http.MethodPost, formOnly("the consent form"), s.handleConsent))
	mux.Handle(p+"/logout", s.page("GET, HEAD, POST", logoutNotAllowed(), s.handleLogout))
	mux.Handle(p+"/account", s.page("GET, HEAD", accountNotAllowed(), s.handleAccount))
	mux.Handle(p+"/account/login", s.page(http.MethodPost, formOnly("the sign-in form"), s.handleAccountLogin))
	mux.Handle(p+"/account/password", s.page(http.MethodPost, formOnly("the password form"), s.handleAccountPassword))
	mux.Handle(p+"/account/sessions/end", s.page(http.MethodPost, formOnly("the sign-out form"), s.handleAccountEndSession))
	mux.Handle(p+"/account/mfa/enrol", s.page(http.MethodPost, formOnly("the two-step verification form"), s.handleAccountEnrol))
	mux.Handle(p+"/account/mfa/confirm", s.page(http.MethodPost, formOnly("the two-step verification form"), s.handleAccountConfirm))
	mux.Handle(p+"/account/mfa/off", s.page(http.MethodPost, formOnly("the two-step verification form"), s.handleAccountMFAOff))
	mux.Handle(p+"/account/mfa/recovery", s.page(http.MethodPost, formOnly("the recovery codes form"), s.handleAccountRecovery))
	mux.Handle(p+"/account/consents/withdraw", s.page(http.MethodPost, formOnly("the remove-access form"), s.handleAccountWithdraw))
	mux.Handle(p+"/device", s.page("GET, HEAD, POST", deviceNotAllowed(), s.handleDevice))
	mux.Handle(p+"/device/login", s.page(http.MethodPost, formOnly("the sign-in form"), s.handleDeviceLogin))
	mux.Handle(p+"/device/consent", s.page("GET, HEAD, POST", deviceNotAllowed(), s.handleDeviceConsent))
	mux.Handle(p+"/assets/", s.readOnly(handle(http.StripPrefix(p+"/assets/", web.Static()))))
	mux.Handle(p+"/healthz", s.readOnly(s.handleHealthz))
	mux.Handle(p+"/readyz", s.readOnly(s.handleReadyz))
	mux.Handle(p+"/metrics", s.readOnly(s.handleMetrics))
	return s.traced(s.observe(mux))
}

// handle adapts a plain http.Handler to the error-returning handlers the
// adapters take.
func handle(h http.Handler) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}
