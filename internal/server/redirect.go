package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/web"
)

// redirectTo sends the browser to the client's redirect URI with params
// appended to its own query, which is kept as registered (S009), plus iss
// (RFC 9207, S156). It answers 303: the request may have carried the
// user's credentials, which a 307 would forward (RFC 9700 §4.12, S103).
func (s *Server) redirectTo(w http.ResponseWriter, req *authRequest, params url.Values) {
	if req.state != "" {
		params.Set("state", req.state)
	}
	params.Set("iss", s.issuer)
	loc := req.redirectURI
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
		if strings.HasSuffix(loc, "?") || strings.HasSuffix(loc, "&") {
			sep = ""
		}
	}
	web.SecurityHeaders(w.Header())
	w.Header().Set("Location", loc+sep+params.Encode())
	w.WriteHeader(http.StatusSeeOther)
}

// redirectError sends an authorization error to the client (RFC 6749
// §4.1.2.1): error, error_description, state and iss, nothing else.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, e *protocol.Error) {
	info(r.Context()).errCode = e.Code
	params := url.Values{"error": {e.Code}}
	if d := protocol.SafeDescription(e.Description); d != "" && e.Code != protocol.ErrServerError {
		params.Set("error_description", d)
	}
	s.redirectTo(w, req, params)
}

// errorPage shows an error to the user without redirecting anywhere.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, pe *pageError) {
	info(r.Context()).errCode = "page_error"
	data := struct {
		Base                         string
		Title, Message, Advice, Code string
	}{Base: s.prefix, Title: pe.title, Message: pe.message, Advice: pe.advice}
	if err := s.pages.Render(w, status, web.Error, data); err != nil {
		s.log.ErrorContext(r.Context(), "render error page", "err", err)
	}
}

// failPage turns an unexpected error into a page: 503 while the store is
// unreachable, 500 otherwise, logged once, never with details.
func (s *Server) failPage(w http.ResponseWriter, r *http.Request, err error) {
	e := s.classify(r.Context(), err)
	status := e.HTTPStatus()
	pe := &pageError{title: "Something went wrong", message: "The server could not complete your request.",
		advice: "Try again in a moment."}
	if e.Code == protocol.ErrTemporarilyUnavailable {
		w.Header().Set("Retry-After", "1")
		pe.message = "The server is temporarily unavailable."
	}
	s.errorPage(w, r, status, pe)
}
