package loadgen

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/formflow"
)

// codeFlow walks the authorization code flow once, as a browser would,
// and redeems the code. With fresh, the flow starts with an empty cookie
// jar, so the server must show its login form; otherwise the worker keeps
// its cookies from one flow to the next.
func (w *worker) codeFlow(ctx context.Context, fresh bool) (tokenAnswer, outcome) {
	if w.walker == nil {
		w.walker = &formflow.Walker{Username: w.r.cfg.Username, Password: w.r.cfg.Password,
			RedirectURI: w.r.cfg.RedirectURI, Header: browseHeader(), MaxHops: maxHops}
	}
	if fresh || w.walker.Client == nil {
		w.walker.Client = formflow.NewClient(w.r.transport)
		w.walker.Client.Timeout = w.r.cfg.Timeout
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

// maxHops bounds the requests one flow sends to the authorization server
// before it must have reached the redirect URI.
const maxHops = formflow.DefaultMaxHops

// browseHeader is the header of every request of the walk.
func browseHeader() http.Header {
	return http.Header{
		"User-Agent": {userAgent},
		"Accept":     {"text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"},
	}
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

// authorize walks from the authorization request to the redirect URI
// through the server's pages (formflow.Walker) and returns the code.
func (w *worker) authorize(ctx context.Context, state, challenge string) (string, outcome) {
	res, err := w.walker.Walk(ctx, w.r.authorizationRequest(state, challenge).String())
	if err != nil {
		var f *formflow.Failure
		if !errors.As(err, &f) {
			return "", failure(0, err.Error())
		}
		o := failure(f.Status, f.Reason)
		if f.Err != nil {
			o = transportFailure(f.Err)
		}
		o.pages = f.Step.N
		return "", o
	}
	code, o := w.r.authorizationResponse(res, state)
	o.pages = res.Hops
	return code, o
}

// authorizationResponse reads the code from the redirect to the client
// (RFC 6749 §4.1.2), checking state and, when present or promised, iss
// (RFC 9207). An error response becomes a failure with its error code.
func (r *runner) authorizationResponse(res formflow.Result, state string) (string, outcome) {
	iss, hasIss := res.Params["iss"]
	switch {
	case res.Error != "":
		return "", failure(res.Status, res.Error)
	case res.State != state:
		return "", failure(res.Status, "state mismatch")
	case hasIss && (len(iss) != 1 || iss[0] != r.md.Issuer), !hasIss && r.md.ISSParameter:
		return "", failure(res.Status, "iss mismatch")
	case res.Code == "":
		return "", failure(res.Status, "no code")
	}
	return res.Code, outcome{ok: true, status: res.Status}
}
