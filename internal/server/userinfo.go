package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// handleUserinfo is OpenID Connect Core §5.3: GET or POST with a Bearer
// access token (RFC 6750) in the Authorization header, or in a POST form
// body; the claims released by the token's scopes, with the sub of the ID
// token (S230-S233).
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		e := bearerError(protocol.ErrInvalidRequest, "use GET or POST")
		e.Status = http.StatusMethodNotAllowed
		return e
	}
	raw, err := bearerToken(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ti, ok, err := s.lookupToken(ctx, raw)
	if err != nil {
		return err
	}
	if !ok || !ti.active || ti.refresh || ti.userID == "" {
		return bearerError(protocol.ErrInvalidToken, "the access token is invalid, expired or revoked")
	}
	if !slices.Contains(ti.scopes, "openid") {
		return bearerError(protocol.ErrInsufficientScope, "the token lacks the openid scope")
	}
	user, err := s.st.GetUser(ctx, ti.userID)
	if errors.Is(err, store.ErrNotFound) {
		return bearerError(protocol.ErrInvalidToken, "the user no longer exists")
	}
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	info(ctx).clientID = ti.clientID
	claims := userClaims(user, ti.scopes)
	claims["sub"] = user.ID
	protocol.NoStore(w.Header())
	protocol.WriteJSON(w, http.StatusOK, claims)
	return nil
}

// bearerToken finds the access token: Authorization: Bearer, or
// access_token in a POST form body; never the query (S054); two ways at
// once is invalid_request (S052). No token at all is the bare challenge of
// RFC 6750 §3.1 (S056).
func bearerToken(r *http.Request) (string, error) {
	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return "", bearerError(protocol.ErrInvalidRequest, "more than one Authorization header")
	}
	var token string
	if len(auth) == 1 {
		scheme, rest, _ := strings.Cut(auth[0], " ")
		if strings.EqualFold(scheme, "bearer") {
			token = strings.TrimSpace(rest)
		}
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
		if perr != nil {
			return "", bearerError(protocol.ErrInvalidRequest, "the form body is malformed")
		}
		if form.Has("access_token") {
			if token != "" {
				return "", bearerError(protocol.ErrInvalidRequest, "send the access token one way, not two")
			}
			token = form.Get("access_token")
		}
	}
	if token == "" {
		return "", &protocol.Error{Status: http.StatusUnauthorized, Challenge: `Bearer realm="latchkey"`}
	}
	return token, nil
}

// bearerError is an RFC 6750 §3 error: its code and description are in the
// WWW-Authenticate challenge as well as the body.
func bearerError(code, desc string) *protocol.Error {
	return &protocol.Error{Code: code, Description: desc, Challenge: `Bearer realm="latchkey", error="` + code +
		`", error_description="` + protocol.SafeDescription(desc) + `"`}
}
