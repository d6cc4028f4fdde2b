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
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		s.bearerError(w, r, http.StatusMethodNotAllowed, protocol.ErrInvalidRequest, "use GET or POST")
		return
	}
	raw, status, code := bearerToken(r)
	if code != "" || raw == "" {
		s.bearerError(w, r, status, code, "")
		return
	}
	ctx := r.Context()
	ti, ok, err := s.lookupToken(ctx, raw)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ok || !ti.active || ti.refresh || ti.userID == "" {
		s.bearerError(w, r, http.StatusUnauthorized, protocol.ErrInvalidToken, "the access token is invalid, expired or revoked")
		return
	}
	if !slices.Contains(ti.scopes, "openid") {
		s.bearerError(w, r, http.StatusForbidden, protocol.ErrInsufficientScope, "the token lacks the openid scope")
		return
	}
	user, err := s.st.GetUser(ctx, ti.userID)
	if errors.Is(err, store.ErrNotFound) {
		s.bearerError(w, r, http.StatusUnauthorized, protocol.ErrInvalidToken, "the user no longer exists")
		return
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("userinfo: %w", err))
		return
	}
	info(ctx).clientID = ti.clientID
	claims := userClaims(user, ti.scopes)
	claims["sub"] = user.ID
	protocol.NoStore(w.Header())
	protocol.WriteJSON(w, http.StatusOK, claims)
}

// bearerToken finds the access token: Authorization: Bearer, or
// access_token in a POST form body; never the query (S054); two ways at
// once is invalid_request (S052).
func bearerToken(r *http.Request) (token string, status int, code string) {
	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return "", http.StatusBadRequest, protocol.ErrInvalidRequest
	}
	if len(auth) == 1 {
		scheme, rest, _ := strings.Cut(auth[0], " ")
		if strings.EqualFold(scheme, "bearer") {
			token = strings.TrimSpace(rest)
		}
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
		if perr != nil {
			return "", http.StatusBadRequest, protocol.ErrInvalidRequest
		}
		if form.Has("access_token") {
			if token != "" {
				return "", http.StatusBadRequest, protocol.ErrInvalidRequest
			}
			token = form.Get("access_token")
		}
	}
	return token, http.StatusUnauthorized, ""
}

// bearerError answers as RFC 6750 §3: a challenge without error when no
// token came (S056), with the error otherwise.
func (s *Server) bearerError(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	challenge := `Bearer realm="latchkey"`
	if code != "" {
		info(r.Context()).errCode = code
		challenge += `, error="` + code + `"`
		if desc != "" {
			challenge += `, error_description="` + protocol.SafeDescription(desc) + `"`
		}
	}
	w.Header().Set("WWW-Authenticate", challenge)
	protocol.NoStore(w.Header())
	if code == "" {
		w.WriteHeader(status)
		return
	}
	protocol.WriteJSON(w, status, map[string]string{"error": code, "error_description": protocol.SafeDescription(desc)})
}
