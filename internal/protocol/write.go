package protocol

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// WriteJSON writes v as a JSON body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// NoStore sets the headers RFC 6749 §5.1 demands on every response that
// carries tokens or credentials (S030).
func NoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteError writes e as an RFC 6749 §5.2 JSON error with its status and
// headers. Server errors never carry a description. An error without a
// code is a bare challenge (RFC 6750 §3.1: no token was sent), with no body.
func WriteError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	NoStore(h)
	if e.Challenge != "" {
		h.Set("WWW-Authenticate", e.Challenge)
	}
	if e.DPoPNonce != "" {
		h.Set("DPoP-Nonce", e.DPoPNonce)
	}
	if e.RetryAfter > 0 {
		secs := int(e.RetryAfter.Seconds() + 0.999)
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	if e.Code == "" {
		w.WriteHeader(e.HTTPStatus())
		return
	}
	desc := SafeDescription(e.Description)
	if e.Code == ErrServerError {
		desc = ""
	}
	WriteJSON(w, e.HTTPStatus(), errorBody{Error: e.Code, Description: desc})
}

// TokenResponse is the successful token response of RFC 6749 §5.1, with the
// OpenID Connect id_token.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	// IssuedTokenType is set by token exchange only (RFC 8693 §2.2.1).
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	Scope           string `json:"scope,omitempty"`
	IDToken         string `json:"id_token,omitempty"`
}

// WriteToken writes a token response with Cache-Control: no-store.
func WriteToken(w http.ResponseWriter, resp TokenResponse) {
	NoStore(w.Header())
	WriteJSON(w, http.StatusOK, resp)
}
