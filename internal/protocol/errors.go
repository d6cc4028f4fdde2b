package protocol

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 7009 §2.2.1, RFC 6750 §3.1
// and OpenID Connect Core §3.1.2.6.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrInvalidScope            = "invalid_scope"
	ErrAccessDenied            = "access_denied"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrServerError             = "server_error"
	ErrTemporarilyUnavailable  = "temporarily_unavailable"
	ErrUnsupportedTokenType    = "unsupported_token_type"
	ErrInvalidToken            = "invalid_token"
	ErrInsufficientScope       = "insufficient_scope"
	ErrLoginRequired           = "login_required"
	ErrConsentRequired         = "consent_required"
	ErrInteractionRequired     = "interaction_required"
	// Request objects are not supported (request_parameter_supported: false).
	ErrRequestNotSupported    = "request_not_supported"
	ErrRequestURINotSupported = "request_uri_not_supported"
	// ErrInvalidRequestURI: a pushed request_uri is unknown, used or
	// expired (RFC 9126 §4, OpenID Connect Core §6.2).
	ErrInvalidRequestURI = "invalid_request_uri"
	// ErrInvalidTarget: a resource indicator is malformed or not allowed
	// (RFC 8707 §2).
	ErrInvalidTarget = "invalid_target"
	// DPoP (RFC 9449 §5, §8).
	ErrInvalidDPoPProof = "invalid_dpop_proof"
	ErrUseDPoPNonce     = "use_dpop_nonce"
	// The device authorization grant's token errors (RFC 8628 §3.5); it
	// also uses access_denied.
	ErrAuthorizationPending = "authorization_pending"
	ErrSlowDown             = "slow_down"
	ErrExpiredToken         = "expired_token"
	// Dynamic client registration errors (RFC 7591 §3.2.2).
	ErrInvalidRedirectURI    = "invalid_redirect_uri"
	ErrInvalidClientMetadata = "invalid_client_metadata"
)

// Error is an OAuth error as RFC 6749 §5.2 describes it. Handlers return it;
// the writers turn it into JSON, a redirect or a page.
type Error struct {
	Code        string
	Description string
	// Status overrides the status chosen from Code (e.g. 405, 413, 429).
	Status int
	// Challenge is the WWW-Authenticate value to send, if any.
	Challenge string
	// RetryAfter, when positive, is sent as a Retry-After header in seconds.
	RetryAfter time.Duration
	// DPoPNonce, when set, is sent as the DPoP-Nonce header (RFC 9449 §8).
	DPoPNonce string

	// RedirectURI, set only once the client and its redirect URI are
	// verified, sends the error of a browser endpoint back to the client
	// with State (RFC 6749 §4.1.2.1); without it the error is shown to the
	// user on a page and never redirected (S012).
	RedirectURI, State string
	// Title and Advice are what the error page shows a person: a heading
	// and what to do next, around the Description. Empty means a generic
	// text for the code.
	Title, Advice string
}

// Page returns an error for the error page of a browser endpoint: a
// heading, the message and what to do next.
func Page(code string, status int, title, message, advice string) *Error {
	return &Error{Code: code, Status: status, Title: title, Description: message, Advice: advice}
}

// ToClient returns a copy of e that a browser endpoint redirects to the
// verified redirectURI with state, instead of showing it.
func (e *Error) ToClient(redirectURI, state string) *Error {
	c := *e
	c.RedirectURI, c.State = redirectURI, state
	return &c
}

// Errorf returns an *Error with code and a formatted description.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// HTTPStatus is the status for e: its override, or the one status map.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return StatusFor(e.Code)
}

// StatusFor maps an error code to its HTTP status: invalid_client and
// invalid_token are 401 (RFC 6749 §5.2, RFC 6750 §3.1), insufficient_scope 403,
// server_error 500, temporarily_unavailable 503, everything else 400.
func StatusFor(code string) int {
	switch code {
	case ErrInvalidClient, ErrInvalidToken:
		return http.StatusUnauthorized
	case ErrInsufficientScope:
		return http.StatusForbidden
	case ErrServerError:
		return http.StatusInternalServerError
	case ErrTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// AsError returns err as an *Error when it is one (anywhere in its chain),
// or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// SafeDescription keeps only the characters RFC 6749 §5.2 allows in
// error_description (%x20-21 / %x23-5B / %x5D-7E), so no quote, backslash,
// control character or non-ASCII byte of an attacker's input gets through.
func SafeDescription(s string) string {
	if len(s) > 300 {
		s = s[:300]
	}
	ok := true
	for i := 0; i < len(s); i++ {
		if !descChar(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if descChar(s[i]) {
			b.WriteByte(s[i])
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

func descChar(c byte) bool {
	return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)
}
