package server

import (
	"errors"
	"net/http"
	"slices"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// loginView is what the login page shows besides the form. Action is
// where the form goes: /login, or /device/login in the device flow.
type loginView struct {
	Base, Action, ClientName, CSRF, Request, Username, Message string
	// PasskeyCSRF, when set, offers passwordless sign-in with a passkey.
	PasskeyCSRF string
}

// showLogin renders the login page for req.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, req *authRequest, v loginView) error {
	binding, err := s.loginCSRF(w, r)
	if err != nil {
		return err
	}
	v.Base, v.Action, v.ClientName = s.prefix, "/login", req.client.Name
	v.CSRF = s.csrfToken("login", binding)
	if s.rp != nil {
		v.PasskeyCSRF = s.csrfToken(csrfPasskeyLogin, binding)
	}
	v.Request = s.carried(req, req.params).Encode()
	s.render(w, r, web.Login, v)
	return nil
}

// render writes a page; once it has begun, a failure can only be logged.
func (s *Server) render(w http.ResponseWriter, r *http.Request, page string, data any) {
	if err := s.pages.Render(w, http.StatusOK, page, data); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", page, "err", err)
	}
}

// handleLogin checks the login form: a CSRF token bound to the browser's
// pre-login cookie (A7), the same guessing limits as the password grant
// (shared counters), one generic failure message; on success a new
// session and a 303 back into the authorization flow (S103).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	form, err := pageForm(r)
	if err != nil {
		return err
	}
	cookie, err := r.Cookie(s.csrfCookie())
	if err != nil || !s.checkCSRF("login", cookie.Value, form.Get("csrf")) {
		return expiredForm()
	}
	req, err := s.formRequest(r, form)
	if err != nil {
		return err
	}
	next := "/authorize?" + s.carried(req, resumeParams(req.params)).Encode()
	need := max(policyLevel(req.client, nil), req.acrLevel)
	_, msg, pending, err := s.signIn(w, r, signInFor{clientID: req.client.ID, clientName: req.client.Name, next: next, need: need}, form)
	if errors.Is(err, errNoPasskey) {
		return s.showUnavailable(w, r, req)
	}
	if err != nil || pending {
		return err
	}
	if msg != "" {
		return s.showLogin(w, r, req, loginView{Username: form.Get("username"), Message: msg})
	}
	s.seeOther(w, s.endpoint(next))
	return nil
}

// signInFor is what a sign-in is for: the client its limits count under,
// where the browser goes next, and the level it must reach.
type signInFor struct {
	clientID, clientName, next string
	need                       int
}

// signIn checks the username and password of a login form under the
// shared guessing limits and, when they are right, starts a new session
// and returns its digest. When they are not, msg is what the login page
// says: one generic message (A11). A user who has a second factor, or
// must have one (their policy, the client's, the request's), is not
// signed in yet: the page of the second step has been written and
// pending is true.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, f signInFor, form protocol.Form) (session, msg string, pending bool, err error) {
	user, err := s.checkUserPassword(r, f.clientID, form.Get("username"), form.Get("password"))
	if e := protocol.AsError(err); e != nil && e.Code == protocol.ErrInvalidGrant {
		if e.RetryAfter > 0 {
			return "", "Too many failed attempts. Wait a little and try again.", false, nil
		}
		return "", "The username or password is incorrect.", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	factors, err := s.confirmedFactors(r, user.ID)
	if err != nil {
		return "", "", false, err
	}
	if f.need >= levelPhishingResistant && (s.rp == nil ||
		!slices.ContainsFunc(factors, func(f store.Factor) bool { return f.Kind == store.FactorWebAuthn })) {
		return "", "", false, errNoPasskey // no second step reaches it: say so now
	}
	if len(factors) > 0 || max(f.need, policyLevel(store.Client{}, &user)) >= levelMFA {
		return "", "", true, s.beginSecondStep(w, r, user, f.clientID, f.clientName, []string{amrPassword}, f.next, f.need)
	}
	session, err = s.startSession(r.Context(), w, r, user, []string{amrPassword})
	return session, "", false, err
}

// errNoPasskey: the sign-in must be phishing-resistant and the user has
// no passkey.
var errNoPasskey = errors.New("a passkey is needed and the user has none")

// seeOther answers a form with a 303 to location (S103). The answer may set
// the session cookie: no cache may keep it (A9).
func (s *Server) seeOther(w http.ResponseWriter, location string) {
	web.SecurityHeaders(w.Header())
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusSeeOther)
}

// pageForm reads the POSTed form of the login or consent page.
func pageForm(r *http.Request) (protocol.Form, error) {
	form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
	if perr != nil {
		e := malformedForm()
		e.Status = perr.HTTPStatus()
		return nil, e
	}
	return form, nil
}

// formOnly is the page a GET of an address that only receives what (a
// form) gets.
func formOnly(what string) *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusMethodNotAllowed, "Nothing here",
		"This address only receives "+what+".", "Go back to the application.")
}

func malformedForm() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusBadRequest, "Malformed form",
		"The form could not be read.", "Go back to the application and start again.")
}

func expiredForm() *protocol.Error {
	return protocol.Page(protocol.ErrInvalidRequest, http.StatusForbidden, "This form has expired",
		"The form was not sent from this server's page in your browser, or it is too old.",
		"Go back to the application and start again.")
}
