package loadgen

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// maxHops bounds the requests one flow sends to the authorization server
// before it must have reached the redirect URI.
const maxHops = 10

// codeFlow walks the authorization code flow once, as a browser would,
// and redeems the code. With fresh, the flow starts with an empty cookie
// jar, so the server must show its login form; otherwise the worker keeps
// its cookies from one flow to the next.
func (w *worker) codeFlow(ctx context.Context, fresh bool) (tokenAnswer, outcome) {
	if fresh || w.browser == nil {
		jar, _ := cookiejar.New(nil) // never fails without options
		w.browser = &http.Client{Transport: w.r.transport, Jar: jar, Timeout: w.r.cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	verifier, state, err := w.r.secrets()
	if err != nil {
		return tokenAnswer{}, failure(0, "randomness: "+err.Error())
	}
	code, o := w.authorize(ctx, state, challengeS256(verifier))
	if !o.ok {
		return tokenAnswer{}, o
	}
	a, t := w.exchange(ctx, w.r.codeBody(code, verifier))
	t.pages = o.pages
	return a, t
}

// secrets returns a fresh PKCE verifier and state (32 random bytes each).
func (r *runner) secrets() (verifier, state string, err error) {
	var b [64]byte
	if _, err := io.ReadFull(r.cfg.Rand, b[:]); err != nil {
		return "", "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:32]), base64.RawURLEncoding.EncodeToString(b[32:]), nil
}

// challengeS256 is the S256 code challenge of verifier (RFC 7636 §4.2).
func challengeS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizationRequest is the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3).
func (r *runner) authorizationRequest(state, challenge string) *url.URL {
	q := url.Values{"response_type": {"code"}, "client_id": {r.cfg.ClientID}, "redirect_uri": {r.cfg.RedirectURI},
		"state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	if r.cfg.Scope != "" {
		q.Set("scope", r.cfg.Scope)
	}
	u := *r.authorizeURL
	if u.RawQuery != "" {
		u.RawQuery += "&" + q.Encode()
	} else {
		u.RawQuery = q.Encode()
	}
	return &u
}

// step is one request of the walk.
type step struct {
	method string
	target *url.URL
	body   string // form-urlencoded, for POST
}

// authorize walks from the authorization request to the redirect URI:
// redirects are followed by hand, and each HTML page's first form is
// filled in and submitted. It returns the code.
func (w *worker) authorize(ctx context.Context, state, challenge string) (string, outcome) {
	next := step{method: http.MethodGet, target: w.r.authorizationRequest(state, challenge)}
	signedIn := false
	status := 0
	for hop := 1; hop <= maxHops; hop++ {
		resp, err := w.browse(ctx, next)
		if err != nil {
			o := transportFailure(err)
			o.pages = hop
			return "", o
		}
		status = resp.StatusCode
		var code string
		var o outcome
		var stop bool
		switch {
		case isRedirect(status):
			code, stop, o = w.redirected(resp, &next, state)
		case status == http.StatusOK && isHTML(resp.Header.Get("Content-Type")):
			stop, o = w.submitForm(&next, &signedIn)
		default:
			stop, o = true, failure(status, oauthErrorCode(w.buf.Bytes()))
		}
		if stop {
			o.pages = hop
			return code, o
		}
	}
	return "", outcome{status: status, code: "too many hops", pages: maxHops}
}

// browse sends one request of the walk and reads the answer into w.buf.
func (w *worker) browse(ctx context.Context, s step) (*http.Response, error) {
	var body io.Reader
	if s.method == http.MethodPost {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, s.target.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	if s.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := w.browser.Do(req)
	if err != nil {
		return nil, err
	}
	return resp, w.read(resp)
}

// redirected follows a redirect: to the redirect URI it ends the walk
// with the authorization response; elsewhere it sets next to follow it
// (307 and 308 keep the method and body, as browsers do).
func (w *worker) redirected(resp *http.Response, next *step, state string) (code string, done bool, o outcome) {
	loc, err := resp.Location()
	if err != nil {
		return "", true, failure(resp.StatusCode, "bad Location")
	}
	if w.r.isRedirectURI(loc) {
		code, o := w.r.authorizationResponse(loc, state, resp.StatusCode)
		return code, true, o
	}
	if resp.StatusCode != http.StatusTemporaryRedirect && resp.StatusCode != http.StatusPermanentRedirect {
		next.method, next.body = http.MethodGet, ""
	}
	next.target = loc
	return "", false, outcome{}
}

// submitForm fills in the page's first form and makes it the next step. A
// second password form after the credentials were sent means they were
// refused.
func (w *worker) submitForm(next *step, signedIn *bool) (stop bool, o outcome) {
	f, err := parseForm(w.buf.Bytes(), next.target)
	if err != nil {
		return true, failure(http.StatusOK, "no form")
	}
	if f.password && *signedIn {
		return true, failure(http.StatusOK, "login failed")
	}
	*signedIn = *signedIn || f.password
	method, target, body := f.submission(w.r.cfg.Username, w.r.cfg.Password)
	*next = step{method: method, target: target, body: body}
	return false, outcome{}
}

// isRedirectURI reports whether loc is the client's redirect URI, with
// or without the parameters of a response.
func (r *runner) isRedirectURI(loc *url.URL) bool {
	s, ru := loc.String(), r.cfg.RedirectURI
	if !strings.HasPrefix(s, ru) {
		return false
	}
	rest := s[len(ru):]
	return rest == "" || strings.ContainsRune("?#&", rune(rest[0]))
}

// authorizationResponse reads the code from the redirect to the client
// (RFC 6749 §4.1.2), checking state and, when present or promised, iss
// (RFC 9207). An error response becomes a failure with its error code.
func (r *runner) authorizationResponse(loc *url.URL, state string, status int) (string, outcome) {
	q := loc.Query()
	if q.Get("code") == "" && q.Get("error") == "" && loc.Fragment != "" {
		q, _ = url.ParseQuery(loc.Fragment)
	}
	iss, hasIss := q["iss"]
	switch {
	case q.Get("error") != "":
		return "", failure(status, q.Get("error"))
	case q.Get("state") != state:
		return "", failure(status, "state mismatch")
	case hasIss && (len(iss) != 1 || iss[0] != r.md.Issuer), !hasIss && r.md.ISSParameter:
		return "", failure(status, "iss mismatch")
	case q.Get("code") == "":
		return "", failure(status, "no code")
	}
	return q.Get("code"), outcome{ok: true, status: status}
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
