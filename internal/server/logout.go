package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
	"github.com/latchkey/latchkey/internal/web"
)

// logoutRequest is a validated RP-initiated logout request (OpenID Connect
// RP-Initiated Logout 1.0 §2).
type logoutRequest struct {
	hintSub     string
	redirectURI string
	state       string
	params      url.Values
}

// handleLogout is the end_session_endpoint. It redirects only to a
// post_logout_redirect_uri registered for the client named by the
// id_token_hint or client_id (no open redirect, S100). With a hint for the
// signed-in user it signs out at once; otherwise it asks first, with a
// CSRF-protected form, so another site cannot sign the user out.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	params, ok := authorizeParams(w, r)
	if !ok {
		return malformedForm()
	}
	confirmed := r.Method == http.MethodPost && params.Get("decision") == "logout"
	if confirmed {
		if params, ok = s.confirmedLogout(r, params); !ok {
			return expiredForm()
		}
	}
	lr, err := s.parseLogout(r, params)
	if err != nil {
		return err
	}
	sess, user, err := s.signedIn(r)
	if err != nil {
		return err
	}
	if sess != nil && !confirmed && (lr.hintSub == "" || lr.hintSub != sess.UserID) {
		s.showLogoutConfirm(w, r, lr, sess, user)
		return nil
	}
	if sess != nil {
		if err := s.endSession(r.Context(), r, *sess, sess.UserID, "logout"); err != nil {
			return err
		}
	}
	s.clearCookie(w, s.sessionCookie())
	if lr.redirectURI == "" {
		s.render(w, r, web.LoggedOut, struct{ Base string }{s.prefix})
		return nil
	}
	loc := lr.redirectURI
	if lr.state != "" {
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		loc += sep + url.Values{"state": {lr.state}}.Encode()
	}
	web.SecurityHeaders(w.Header())
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// logoutNotAllowed is the page a method other than GET or POST gets.
func logoutNotAllowed() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusMethodNotAllowed, "Method not allowed",
		"The sign-out endpoint answers GET and POST only.", "Go back to the application.")
}

// confirmedLogout checks the confirmation form's CSRF token and returns the
// original request's parameters.
func (s *Server) confirmedLogout(r *http.Request, form url.Values) (url.Values, bool) {
	sess, err := s.currentSession(r)
	if err != nil || sess == nil || !s.checkCSRF("logout", sess.Digest, form.Get("csrf")) {
		return nil, false
	}
	params, err := url.ParseQuery(form.Get("request"))
	return params, err == nil
}

func (s *Server) parseLogout(r *http.Request, params url.Values) (*logoutRequest, error) {
	for _, vs := range params {
		if len(vs) > 1 {
			return nil, badLogout("a parameter is repeated")
		}
	}
	lr := &logoutRequest{state: params.Get("state"), params: params}
	clientID := params.Get("client_id")
	if hint := params.Get("id_token_hint"); hint != "" {
		claims, err := token.VerifyID(s.keys, hint, s.issuer)
		if err != nil {
			return nil, badLogout("the id_token_hint was not issued by this server")
		}
		lr.hintSub, _ = claims["sub"].(string)
		aud, _ := claims["aud"].(string)
		if clientID != "" && clientID != aud {
			return nil, badLogout("client_id does not match the id_token_hint")
		}
		clientID = aud
	}
	redirect := params.Get("post_logout_redirect_uri")
	if redirect == "" {
		return lr, nil
	}
	if clientID == "" {
		return nil, badLogout("post_logout_redirect_uri needs an id_token_hint or a client_id")
	}
	c, err := s.clientUncached(r.Context(), clientID)
	if err != nil || !slices.Contains(c.PostLogoutRedirectURIs, redirect) {
		return nil, badLogout("the post_logout_redirect_uri is not registered for this application")
	}
	lr.redirectURI = redirect
	return lr, nil
}

func badLogout(why string) *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusBadRequest, "Sign-out request not accepted",
		"The application's sign-out request was not accepted: "+why+".",
		"You have not been sent anywhere. You can close this window, or go back to the application.")
}

func (s *Server) showLogoutConfirm(w http.ResponseWriter, r *http.Request, lr *logoutRequest, sess *store.Session, user store.User) {
	v := struct{ Base, Username, CSRF, Request string }{
		Base: s.prefix, Username: user.Username, CSRF: s.csrfToken("logout", sess.Digest), Request: lr.params.Encode(),
	}
	s.render(w, r, web.LogoutConfirm, v)
}
