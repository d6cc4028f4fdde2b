package bearer

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/dpop"
)

// Error codes of RFC 6750 §3.1 and RFC 9449 §7.1, §9, and the one this
// package adds for an authorization server it cannot reach.
const (
	// CodeInvalidRequest means the request is malformed, for example it carries
	// the token in more than one place (RFC 6750 §2, §3.1). HTTP 400.
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidToken means the token is expired, revoked, malformed, badly
	// signed or meant for another resource (RFC 6750 §3.1). HTTP 401.
	CodeInvalidToken = "invalid_token"
	// CodeInsufficientScope means the token is valid but lacks a scope the
	// resource needs (RFC 6750 §3.1). HTTP 403.
	CodeInsufficientScope = "insufficient_scope"
	// CodeInvalidDPoPProof means the DPoP proof sent with a DPoP-bound
	// token is missing, malformed, stale, replayed or made for another
	// request (RFC 9449 §7.1). HTTP 401.
	CodeInvalidDPoPProof = dpop.CodeInvalidProof
	// CodeUseDPoPNonce means the proof must carry the nonce given in the
	// answer's DPoP-Nonce header (RFC 9449 §9). HTTP 401.
	CodeUseDPoPNonce = dpop.CodeUseNonce
	// CodeTemporarilyUnavailable means the token could not be checked because
	// the authorization server could not be reached (the name follows
	// RFC 6749 §4.1.2.1). HTTP 503 with Retry-After.
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// Sentinel errors. Every error that Validate returns, and that the
// middleware answers with, is an *Error wrapping one of them, so callers can
// tell causes apart with errors.Is. The specific token errors also match
// ErrInvalidToken.
var (
	// ErrNoToken means the request carries no bearer token (RFC 6750 §3.1: the
	// challenge then has no error code).
	ErrNoToken = errors.New("bearer: no bearer token")
	// ErrInvalidRequest means the token was sent in more than one way, or the
	// Authorization header is malformed (RFC 6750 §2, S052).
	ErrInvalidRequest = errors.New("bearer: invalid request")
	// ErrInvalidToken matches every reason a token is refused.
	ErrInvalidToken = errors.New("bearer: invalid token")
	// ErrMalformed means the token is too long, not a compact JWS, encrypted, or
	// lacks a required claim (RFC 9068 §2.2).
	ErrMalformed = fmt.Errorf("%w: malformed", ErrInvalidToken)
	// ErrTokenType means the JWT is not typed at+jwt, as an ID token is not
	// (RFC 9068 §4, §5).
	ErrTokenType = fmt.Errorf("%w: not an access token", ErrInvalidToken)
	// ErrSignature means the signature does not verify, the algorithm is not
	// allowed or does not suit the key, or no published key has the kid
	// (RFC 8725 §3.1).
	ErrSignature = fmt.Errorf("%w: bad signature", ErrInvalidToken)
	// ErrExpired means the token's exp has passed, beyond the leeway.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalidToken)
	// ErrNotYetValid means the token's nbf, or its iat, lies in the future
	// beyond the leeway.
	ErrNotYetValid = fmt.Errorf("%w: not yet valid", ErrInvalidToken)
	// ErrIssuer means the token was issued by another authorization server.
	ErrIssuer = fmt.Errorf("%w: wrong issuer", ErrInvalidToken)
	// ErrAudience means the token is meant for another resource server
	// (RFC 9068 §4, RFC 8707).
	ErrAudience = fmt.Errorf("%w: wrong audience", ErrInvalidToken)
	// ErrInactive means introspection reports the token inactive: revoked,
	// expired or unknown (RFC 7662 §2.2).
	ErrInactive = fmt.Errorf("%w: inactive", ErrInvalidToken)
	// ErrBinding means the token and the way it was sent disagree: a token
	// bound to a DPoP key sent as a bearer token (the downgrade of RFC 9449
	// §7.2, S169), a token bound to no key sent with the DPoP scheme, or a
	// proof signed by another key than the token's cnf.jkt.
	ErrBinding = fmt.Errorf("%w: key binding", ErrInvalidToken)
	// ErrDPoPProof means the DPoP proof was refused (RFC 9449 §4.3).
	ErrDPoPProof = errors.New("bearer: invalid DPoP proof")
	// ErrDPoPNonce means the DPoP proof lacks the nonce the resource server
	// asks for, or carries a stale one (RFC 9449 §9).
	ErrDPoPNonce = errors.New("bearer: DPoP nonce required")
	// ErrInsufficientScope means the token lacks a required scope.
	ErrInsufficientScope = errors.New("bearer: insufficient scope")
	// ErrUnavailable means the authorization server could not be reached to
	// check the token; the token may well be valid, so retry later.
	ErrUnavailable = errors.New("bearer: authorization server unavailable")
)

// Error is a refused request, carrying the fields of an RFC 6750 §3
// challenge. Err is one of the sentinel errors above.
type Error struct {
	// Code is an RFC 6750 §3.1 or RFC 9449 error code
	// (CodeInvalidToken, CodeInvalidDPoPProof...), or "" when the request
	// carried no token at all.
	Code string
	// Description is a human-readable explanation for the client's
	// developer. It never contains the token.
	Description string
	// Scope lists the scopes the resource needs, for CodeInsufficientScope.
	Scope []string
	// RetryAfter is how long to wait, for CodeTemporarilyUnavailable.
	RetryAfter time.Duration
	// DPoPNonce is the nonce a proof must carry, sent in the DPoP-Nonce
	// header, for CodeUseDPoPNonce (RFC 9449 §9).
	DPoPNonce string
	// Err is the sentinel error this one wraps.
	Err error

	// dpop is set when the request used the DPoP scheme, so that the
	// challenge is DPoP's.
	dpop bool
}

// Error describes e.
func (e *Error) Error() string {
	msg := "bearer: " + e.Code
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Description == "" {
		return msg
	}
	return msg + ": " + e.Description
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

// StatusCode is the HTTP status that answers e (RFC 6750 §3.1).
func (e *Error) StatusCode() int {
	switch e.Code {
	case CodeInvalidRequest:
		return http.StatusBadRequest
	case CodeInsufficientScope:
		return http.StatusForbidden
	case CodeTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// tokenError returns an invalid_token error wrapping sentinel.
func tokenError(sentinel error, description string) *Error {
	return &Error{Code: CodeInvalidToken, Description: description, Err: sentinel}
}

// requestError returns an invalid_request error.
func requestError(description string) *Error {
	return &Error{Code: CodeInvalidRequest, Description: description, Err: ErrInvalidRequest}
}

// unavailable returns a temporarily_unavailable error.
func unavailable(description string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeTemporarilyUnavailable, Description: description, RetryAfter: retryAfter, Err: ErrUnavailable}
}

// asDPoP returns a copy of e marked as an answer to the DPoP scheme (e
// may be a cached answer shared by other requests).
func asDPoP(e *Error) *Error {
	cp := *e
	cp.dpop = true
	return &cp
}

// writeError answers a refused request: the status of e, WWW-Authenticate
// challenges for 400, 401 and 403, a Retry-After for 503, DPoP-Nonce for
// use_dpop_nonce, Cache-Control: no-store and a small JSON body.
//
// A request without credentials gets a challenge for each scheme accepted,
// without error (RFC 6750 §3.1, RFC 9449 §7.1, S056, S168); one that used
// the DPoP scheme, or any request when DPoP is required, gets DPoP's; the
// others get Bearer's. Never Proxy-Authenticate (S168).
func (v *Validator) writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	switch {
	case e.Code == CodeTemporarilyUnavailable:
		secs := max(1, int((e.RetryAfter+time.Second-1)/time.Second))
		h.Set("Retry-After", strconv.Itoa(secs))
	case e.Code == "" && !v.cfg.DPoP.Require:
		h.Add("WWW-Authenticate", v.challenge("Bearer", e))
		h.Add("WWW-Authenticate", v.challenge("DPoP", e))
	case e.dpop || v.cfg.DPoP.Require:
		h.Set("WWW-Authenticate", v.challenge("DPoP", e))
	default:
		h.Set("WWW-Authenticate", v.challenge("Bearer", e))
	}
	if e.DPoPNonce != "" {
		h.Set("DPoP-Nonce", e.DPoPNonce)
	}
	w.WriteHeader(e.StatusCode())
	_, _ = w.Write(errorBody(e))
}

// challenge builds v's challenge of scheme for e: Bearer's names the
// realm, DPoP's the algorithms accepted.
func (v *Validator) challenge(scheme string, e *Error) string {
	if scheme == "DPoP" {
		return challenge(scheme, "", e, v.dpopAlgs, v.metadataURL)
	}
	return challenge(scheme, v.cfg.Realm, e, "", v.metadataURL)
}

// challenge builds a WWW-Authenticate value (RFC 6750 §3, RFC 9449 §7.1):
// scheme, then realm and resource_metadata (RFC 9728 §5.1) when given,
// error, error_description and scope when e has them, and algs when
// given. A request without a token gets no error attribute (RFC 6750
// §3.1, S056).
func challenge(scheme, realm string, e *Error, algs, metadataURL string) string {
	var params []string
	if realm != "" {
		params = append(params, `realm="`+quote(realm)+`"`)
	}
	if metadataURL != "" {
		params = append(params, `resource_metadata="`+quote(metadataURL)+`"`)
	}
	if e.Code != "" {
		params = append(params, `error="`+e.Code+`"`)
		if e.Description != "" {
			params = append(params, `error_description="`+quote(safeDescription(e.Description))+`"`)
		}
		if len(e.Scope) > 0 {
			params = append(params, `scope="`+quote(strings.Join(e.Scope, " "))+`"`)
		}
	}
	if algs != "" {
		params = append(params, `algs="`+algs+`"`)
	}
	return scheme + " " + strings.Join(params, ", ")
}

// errorBody is the JSON body: {"error": code, "error_description": ...};
// without a code (no token was sent) only the description.
func errorBody(e *Error) []byte {
	var b strings.Builder
	b.WriteByte('{')
	if e.Code != "" {
		b.WriteString(`"error":"` + e.Code + `"`)
	}
	if e.Description != "" {
		if e.Code != "" {
			b.WriteByte(',')
		}
		// safeDescription leaves no character that JSON needs escaped.
		b.WriteString(`"error_description":"` + safeDescription(e.Description) + `"`)
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

// quote escapes a quoted-string value (RFC 9110 §5.6.4).
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return r.Replace(s)
}

// safeDescription keeps only the characters RFC 6749 §5.2 allows in
// error_description (%x20-21 / %x23-5B / %x5D-7E), replacing others with
// '?' (S059).
func safeDescription(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}
