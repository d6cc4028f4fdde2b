package server

import (
	"net/http"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/web"
)

// loginView is what the login page shows besides the form.
type loginView struct {
	Base, ClientName, CSRF, Request, Username, Message string
}

// showLogin renders the login page for req.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, req *authRequest, v loginView) {
	binding, err := s.loginCSRF(w, r)
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	v.Base, v.ClientName = s.prefix, req.client.Name
	v.CSRF = s.csrfToken("login", binding)
	v.Request = req.params.Encode()
	if err := s.pages.Render(w, http.StatusOK, web.Login, v); err != nil {
		s.log.ErrorContext(r.Context(), "render login page", "err", err)
	}
}

// handleLogin checks the login form: a CSRF token bound to the browser's
// pre-login cookie (A7), the same guessing limits as the password grant
// (shared counters), one generic failure message; on success a new
// session and a 303 back into the authorization flow (S103).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	form, ok := s.pageForm(w, r, "the sign-in form")
	if !ok {
		return
	}
	cookie, err := r.Cookie(s.csrfCookie())
	if err != nil || !s.checkCSRF("login", cookie.Value, form.Get("csrf")) {
		s.errorPage(w, r, http.StatusForbidden, expiredForm())
		return
	}
	req := s.formRequest(w, r, form)
	if req == nil {
		return
	}
	ctx := r.Context()
	username := form.Get("username")
	user, err := s.checkUserPassword(r, req.client.ID, username, form.Get("password"))
	if e := protocol.AsError(err); e != nil && e.Code == protocol.ErrInvalidGrant {
		msg := "The username or password is incorrect."
		if e.RetryAfter > 0 {
			msg = "Too many failed attempts. Wait a little and try again."
		}
		s.showLogin(w, r, req, loginView{Username: username, Message: msg})
		return
	}
	if err != nil {
		s.failPage(w, r, err)
		return
	}
	if err := s.startSession(ctx, w, r, user); err != nil {
		s.failPage(w, r, err)
		return
	}
	// The redirect sets the session cookie: no cache may keep it (A9).
	web.SecurityHeaders(w.Header())
	w.Header().Set("Location", s.endpoint("/authorize")+"?"+resumeParams(req.params).Encode())
	w.WriteHeader(http.StatusSeeOther)
}

// pageForm reads the POSTed form of one of the pages (what names it in
// the error a GET or a malformed body gets).
func (s *Server) pageForm(w http.ResponseWriter, r *http.Request, what string) (protocol.Form, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.errorPage(w, r, http.StatusMethodNotAllowed, &pageError{title: "Nothing here",
			message: "This address only receives " + what + ".", advice: "Go back to the application."})
		return nil, false
	}
	form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
	if perr != nil {
		s.errorPage(w, r, perr.HTTPStatus(), malformedForm())
		return nil, false
	}
	return form, true
}

func malformedForm() *pageError {
	return &pageError{title: "Malformed form", message: "The form could not be read.",
		advice: "Go back to the application and start again."}
}

func expiredForm() *pageError {
	return &pageError{title: "This form has expired",
		message: "The form was not sent from this server's page in your browser, or it is too old.",
		advice:  "Go back to the application and start again."}
}
