package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// introspection is the RFC 7662 §2.2 response.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	// Cnf is the DPoP key binding (RFC 9449 §6.2, S166).
	Cnf *token.Confirmation `json:"cnf,omitempty"`
	// Act is the delegation chain of an exchanged token (RFC 8693 §4.1).
	Act *token.Actor `json:"act,omitempty"`
	// AMR and ACR say how the user signed in.
	AMR []string `json:"amr,omitempty"`
	ACR string   `json:"acr,omitempty"`
}

// handleIntrospect is RFC 7662. The caller authenticates as a confidential
// client (S077); it may introspect its own tokens, and any token when it is
// configured with introspection: true. Anything unknown, expired, revoked
// or not visible to the caller is {"active":false} and nothing else (S079).
// A caller that keeps asking about tokens that are not active is slowed
// down (A23): while it waits, inactive tokens get 429 instead of an
// answer. Active tokens are still answered, so that someone who sprays a
// resource server with garbage cannot make it reject its users' valid
// tokens.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) error {
	form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
	if perr != nil {
		return perr
	}
	caller, method, err := s.authenticateClient(r, form)
	if err != nil {
		return err
	}
	if err := requireConfidential(caller, method); err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return protocol.Errorf(protocol.ErrInvalidRequest, "token is required")
	}
	ctx := r.Context()
	now := s.now()
	ti, ok, err := s.lookupToken(ctx, raw)
	if err != nil {
		return err
	}
	protocol.NoStore(w.Header())
	if !ok || !ti.active || (!caller.Introspection && ti.clientID != caller.ID) {
		keys := []limitKey{{"introspect:" + caller.ID, s.cfg.Limits.PerClient}}
		if wait, _, _ := s.guard.wait(ctx, s.guard.local, keys, now); wait > 0 {
			return &protocol.Error{Code: protocol.ErrInvalidRequest, Description: "too many inactive tokens; retry later",
				Status: http.StatusTooManyRequests, RetryAfter: wait}
		}
		_ = s.countFailure(ctx, r, s.guard.local, keys, now, caller.ID)
		protocol.WriteJSON(w, http.StatusOK, introspection{Active: false})
		return nil
	}
	resp, err := s.describe(r, ti)
	if err != nil {
		return err
	}
	protocol.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) describe(r *http.Request, ti tokenInfo) (introspection, error) {
	resp := introspection{
		Active: true, Scope: protocol.JoinScope(ti.scopes), ClientID: ti.clientID, Exp: ti.expiry.Unix(),
		Iat: ti.issuedAt.Unix(), Sub: ti.subject, Aud: ti.audience, Iss: s.issuer, JTI: ti.jti, Act: ti.act,
		AMR: ti.amr, ACR: ti.acr,
	}
	if ti.jkt != "" {
		resp.Cnf = &token.Confirmation{JKT: ti.jkt}
	}
	switch {
	case ti.refresh:
	case ti.jkt != "":
		resp.TokenType = protocol.TokenTypeDPoP
	default:
		resp.TokenType = protocol.TokenTypeBearer
	}
	if ti.userID != "" {
		u, err := s.st.GetUser(r.Context(), ti.userID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return introspection{Active: false}, nil
		case err != nil:
			return introspection{}, fmt.Errorf("introspect: look up user: %w", err)
		}
		resp.Username = u.Username
		if len(resp.AMR) == 0 && ti.grantID != "" { // an opaque or refresh token: the grant knows
			g, err := s.st.GetGrant(r.Context(), ti.grantID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return introspection{}, fmt.Errorf("introspect: look up grant: %w", err)
			}
			resp.AMR, resp.ACR = g.AMR, g.ACR
		}
	}
	return resp, nil
}
