// Package formflow walks the authorization code flow of an OAuth 2
// authorization server without a browser: from the authorization request
// (RFC 6749 §4.1.1) through the server's HTML login and consent forms to
// the redirect that carries the code back to the client (§4.1.2). Forms
// are read with golang.org/x/net/html as a browser reads them (hidden
// fields, the username and password fields, the button that approves), so
// the walker serves any server, not only Latchkey: `latchkey bench` runs
// it under load, `latchkey demo` prints each of its steps, and the tests
// walk Latchkey with it. Walker.Device does the user's part of the device
// grant the same way (RFC 8628 §3.3): the code form, the login, Approve
// or Deny.
package formflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// Defaults of a Walker's limits.
const (
	// DefaultMaxHops bounds the requests of one walk.
	DefaultMaxHops = 10
	// DefaultMaxBody bounds what is read of each answer.
	DefaultMaxBody = 1 << 20
)

// maxFailureBody bounds the body a Failure keeps.
const maxFailureBody = 64 << 10

// The reasons of a Failure that are not an OAuth error code.
const (
	ReasonBadLocation = "bad Location"  // a redirect whose Location is unreadable
	ReasonNoForm      = "no form"       // an HTML page without a form
	ReasonLoginFailed = "login failed"  // the login form again after the credentials were sent
	ReasonTooManyHops = "too many hops" // MaxHops requests without reaching the redirect URI
)

// Kind says what a step of a walk is.
type Kind int

// The kinds of step.
const (
	// Authorize is the authorization request, the first step.
	Authorize Kind = iota
	// Redirect follows a redirect that stays at the server (such as the
	// one back to the authorization endpoint after the login).
	Redirect
	// Login submits a form with a password field.
	Login
	// Consent submits any other form, with the button that approves.
	Consent
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case Authorize:
		return "authorize"
	case Redirect:
		return "redirect"
	case Login:
		return "login"
	case Consent:
		return "consent"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Step is one request of a walk.
type Step struct {
	// N counts the requests of the walk, from 1.
	N    int
	Kind Kind
	// Method is GET or POST.
	Method string
	URL    *url.URL
	// Body is the form-urlencoded body of a POST. It holds the password
	// in a Login step.
	Body string
}

// Walker walks the flow with one HTTP client, whose cookie jar is the
// user's session: a walker that keeps its client may find the user
// signed in and consented, and reach the redirect URI at once. A Walker
// reuses one buffer for the answers, so it is not safe for concurrent
// use; give each goroutine its own.
type Walker struct {
	// Client sends every request. It must not follow redirects (the walker
	// follows them, to stop at the redirect URI) and should have a cookie
	// jar; NewClient makes one. When nil, Walk sets it to NewClient(nil).
	Client *http.Client
	// Username and Password fill in the login form.
	Username, Password string
	// RedirectURI is the client's redirect URI, where the walk ends
	// (default: the authorization request's redirect_uri parameter).
	RedirectURI string
	// Header is added to every request (such as User-Agent or Accept).
	Header http.Header
	// MaxHops bounds the requests of a walk (default DefaultMaxHops).
	MaxHops int
	// MaxBody bounds what is read of each answer; the rest is left unread
	// (default DefaultMaxBody).
	MaxBody int64
	// Before, when set, is called before each request is sent. It may
	// change the step's URL (send it to another instance) and may stop the
	// walk with an error, which Walk returns inside a Failure.
	Before func(*Step) error
	// After, when set, is called with each answer and its body (read up to
	// MaxBody; valid only during the call).
	After func(Step, *http.Response, []byte)

	buf bytes.Buffer
	lim io.LimitedReader
}

// NewClient returns a client for a Walker: a cookie jar of its own, no
// redirects followed, requests sent with rt (http.DefaultTransport when
// nil).
func NewClient(rt http.RoundTripper) *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{Transport: rt, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Result is the end of a walk that reached the client's redirect URI:
// the authorization response (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207).
// Checking state and iss is the caller's part.
type Result struct {
	// Code, State, Iss, Error and ErrorDescription are the response's
	// parameters of those names ("" when absent).
	Code, State, Iss        string
	Error, ErrorDescription string
	// Params are all the response's parameters: the query of Location, or
	// its fragment when the query has neither code nor error.
	Params url.Values
	// Location is the redirect to the client, Status its HTTP status.
	Location *url.URL
	Status   int
	// Hops is the number of requests the walk sent.
	Hops int
}

// ParseResponse reads the authorization response that a redirect to the
// client carries in loc.
func ParseResponse(loc *url.URL, status int) Result {
	q := loc.Query()
	if q.Get("code") == "" && q.Get("error") == "" && loc.Fragment != "" {
		q, _ = url.ParseQuery(loc.Fragment)
	}
	return Result{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
		Params: q, Location: loc, Status: status}
}

// Failure is a walk that did not reach the redirect URI.
type Failure struct {
	// Step is the request whose answer (or lack of one) ended the walk.
	Step Step
	// Status is that answer's HTTP status, 0 when there was none.
	Status int
	// Reason is the OAuth error code of a JSON answer, one of the Reason…
	// constants, or "".
	Reason string
	// Err is the transport's error, or the error of Before.
	Err error
	// Body is the answer that ended the walk (its first 64 KiB).
	Body []byte
}

// Error describes the failure, naming the request without its query.
func (f *Failure) Error() string {
	where := f.Step.Method
	if f.Step.URL != nil {
		u := *f.Step.URL
		u.RawQuery, u.Fragment, u.User = "", "", nil
		where += " " + u.String()
	}
	switch {
	case f.Err != nil:
		return fmt.Sprintf("%s (step %d, %s): %v", where, f.Step.N, f.Step.Kind, f.Err)
	case f.Reason == "":
		return fmt.Sprintf("%s (step %d, %s) answered %d", where, f.Step.N, f.Step.Kind, f.Status)
	}
	return fmt.Sprintf("%s (step %d, %s) answered %d: %s", where, f.Step.N, f.Step.Kind, f.Status, f.Reason)
}

// Unwrap returns Err.
func (f *Failure) Unwrap() error { return f.Err }

// Walk sends the authorization request authURL and walks on as a browser
// would: it follows redirects (307 and 308 keeping the method and body),
// and fills in and submits the first form of each HTML page, until a
// redirect points at the redirect URI. It returns that redirect's
// authorization response, or a *Failure: a transport error, an answer
// that is neither a redirect nor a page with a form, a login refused, or
// too many hops.
func (w *Walker) Walk(ctx context.Context, authURL string) (Result, error) {
	first, err := url.Parse(authURL)
	if err != nil {
		return Result{}, fmt.Errorf("the authorization URL: %w", err)
	}
	redirectURI := w.RedirectURI
	if redirectURI == "" {
		if redirectURI = first.Query().Get("redirect_uri"); redirectURI == "" {
			return Result{}, errors.New("the authorization request has no redirect_uri, and the walker no RedirectURI")
		}
	}
	if w.Client == nil {
		w.Client = NewClient(nil)
	}
	maxHops := w.MaxHops
	if maxHops <= 0 {
		maxHops = DefaultMaxHops
	}
	step := Step{Kind: Authorize, Method: http.MethodGet, URL: first}
	var sent Step
	signedIn, status := false, 0
	for hop := 1; hop <= maxHops; hop++ {
		step.N = hop
		resp, f := w.send(ctx, &step)
		if f != nil {
			return Result{}, f
		}
		sent, status = step, resp.StatusCode
		switch {
		case isRedirect(status):
			loc, err := resp.Location()
			if err != nil {
				return Result{}, w.failure(step, status, ReasonBadLocation)
			}
			if redirectsTo(loc, redirectURI) {
				r := ParseResponse(loc, status)
				r.Hops = hop
				return r, nil
			}
			step = followed(step, loc, status)
		case status == http.StatusOK && isHTML(resp.Header.Get("Content-Type")):
			form, err := Parse(w.buf.Bytes(), step.URL)
			if err != nil {
				return Result{}, w.failure(step, status, ReasonNoForm)
			}
			if form.Login && signedIn {
				return Result{}, w.failure(step, status, ReasonLoginFailed)
			}
			signedIn = signedIn || form.Login
			kind := Consent
			if form.Login {
				kind = Login
			}
			method, target, body := form.Submission(w.Username, w.Password)
			step = Step{Kind: kind, Method: method, URL: target, Body: body}
		default:
			return Result{}, w.failure(step, status, errorCode(w.buf.Bytes()))
		}
	}
	return Result{}, &Failure{Step: sent, Status: status, Reason: ReasonTooManyHops}
}

// send runs Before, sends the step and reads the answer into w.buf.
func (w *Walker) send(ctx context.Context, s *Step) (*http.Response, *Failure) {
	if w.Before != nil {
		if err := w.Before(s); err != nil {
			return nil, &Failure{Step: *s, Err: err}
		}
	}
	var body io.Reader
	if s.Method == http.MethodPost {
		body = strings.NewReader(s.Body)
	}
	// The request takes the step's URL as it is, rather than printing it
	// and parsing it again.
	req, err := http.NewRequestWithContext(ctx, s.Method, "/", body)
	if err != nil {
		return nil, &Failure{Step: *s, Err: err}
	}
	req.URL, req.Host = s.URL, s.URL.Host
	for k, v := range w.Header {
		req.Header[k] = v
	}
	if s.Method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := w.Client.Do(req)
	if err != nil {
		return nil, &Failure{Step: *s, Err: err}
	}
	if err := w.read(resp); err != nil {
		return nil, &Failure{Step: *s, Status: resp.StatusCode, Err: err}
	}
	if w.After != nil {
		w.After(*s, resp, w.buf.Bytes())
	}
	return resp, nil
}

// read reads resp's body (up to MaxBody) into w.buf and closes it.
func (w *Walker) read(resp *http.Response) error {
	n := w.MaxBody
	if n <= 0 {
		n = DefaultMaxBody
	}
	w.buf.Reset()
	w.lim = io.LimitedReader{R: resp.Body, N: n}
	_, err := w.buf.ReadFrom(&w.lim)
	resp.Body.Close()
	return err
}

// failure is the Failure of an answer that ends the walk.
func (w *Walker) failure(s Step, status int, reason string) *Failure {
	return &Failure{Step: s, Status: status, Reason: reason, Body: bytes.Clone(w.buf.Bytes()[:min(w.buf.Len(), maxFailureBody)])}
}

// followed is the step that follows a redirect to loc: 307 and 308 keep
// the method and body, as browsers do; the others become a GET.
func followed(s Step, loc *url.URL, status int) Step {
	next := Step{Kind: Redirect, Method: http.MethodGet, URL: loc}
	if status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect {
		next.Method, next.Body = s.Method, s.Body
	}
	return next
}

// redirectsTo reports whether loc is the redirect URI, with or without the
// parameters of a response.
func redirectsTo(loc *url.URL, redirectURI string) bool {
	s := loc.String()
	if !strings.HasPrefix(s, redirectURI) {
		return false
	}
	rest := s[len(redirectURI):]
	return rest == "" || strings.ContainsRune("?#&", rune(rest[0]))
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

func isHTML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

// errorCode is the error member of a JSON error body, or "".
func errorCode(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error
}
