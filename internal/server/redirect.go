package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/web"
)

// page adapts a browser endpoint (/authorize, /login, /consent, /logout):
// a method outside allow gets 405 with the page notAllowed, and an error
// the handler returns is written once, by writePageError.
func (s *Server) page(allow string, notAllowed *protocol.Error, fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	methods := strings.Split(allow, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(methods, r.Method) {
			w.Header().Set("Allow", allow)
			s.writePageError(w, r, notAllowed)
			return
		}
		if err := fn(w, r); err != nil {
			s.writePageError(w, r, err)
		}
	})
}

// writePageError is the one error writer of the browser endpoints. An
// error whose client and redirect URI were verified goes back to the
// client (RFC 6749 §4.1.2.1): error, error_description, state and iss,
// nothing else. Any other error is shown to the user on the error page and
// never redirected (S012); unexpected errors become a generic page, 503
// while the store is unreachable, logged once and never with details.
func (s *Server) writePageError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.classify(r.Context(), err)
	if e.RedirectURI != "" {
		info(r.Context()).errCode = e.Code
		params := url.Values{"error": {e.Code}}
		if d := protocol.SafeDescription(e.Description); d != "" && e.Code != protocol.ErrServerError {
			params.Set("error_description", d)
		}
		s.redirectTo(w, e.RedirectURI, e.State, params)
		return
	}
	info(r.Context()).errCode = "page_error"
	data := struct {
		Base                         string
		Title, Message, Advice, Code string
	}{Base: s.prefix, Title: e.Title, Message: e.Description, Advice: e.Advice}
	if e.Title == "" || e.Code == protocol.ErrServerError || e.Code == protocol.ErrTemporarilyUnavailable {
		data.Title, data.Message, data.Advice = "Something went wrong", "The server could not complete your request.", "Try again in a moment."
		if e.Code == protocol.ErrTemporarilyUnavailable {
			data.Message = "The server is temporarily unavailable."
		}
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	if err := s.pages.Render(w, e.HTTPStatus(), web.Error, data); err != nil {
		s.log.ErrorContext(r.Context(), "render error page", "err", err)
	}
}

// redirectTo sends the browser to the client's redirect URI with params
// appended to its own query, which is kept as registered (S009), plus
// state and iss (RFC 9207, S156). It answers 303: the request may have
// carried the user's credentials, which a 307 would forward (RFC 9700
// §4.12, S103).
func (s *Server) redirectTo(w http.ResponseWriter, redirectURI, state string, params url.Values) {
	web.SecurityHeaders(w.Header())
	w.Header().Set("Location", s.redirectURL(redirectURI, state, params))
	w.WriteHeader(http.StatusSeeOther)
}

// redirectURL is redirectURI with params, state and iss added.
func (s *Server) redirectURL(redirectURI, state string, params url.Values) string {
	if state != "" {
		params.Set("state", state)
	}
	params.Set("iss", s.issuer)
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
		if strings.HasSuffix(redirectURI, "?") || strings.HasSuffix(redirectURI, "&") {
			sep = ""
		}
	}
	return redirectURI + sep + params.Encode()
}
