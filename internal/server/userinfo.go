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
// body, or a DPoP-bound one with its proof (RFC 9449 §7); the claims
// released by the token's scopes, with the sub of the ID token
// (S230-S233).
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		e := bearerError(protocol.ErrInvalidRequest, "use GET or POST")
		e.Status = http.StatusMethodNotAllowed
		return e
	}
	w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce") // S177
	raw, scheme, err := s.accessToken(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ti, ok, err := s.lookupToken(ctx, raw)
	if err != nil {
		return err
	}
	if !ok || !ti.active || ti.refresh || ti.userID == "" {
		return s.tokenError(scheme, protocol.ErrInvalidToken, "the access token is invalid, expired or revoked")
	}
	if err := s.checkBinding(r, scheme, raw, ti); err != nil {
		return err
	}
	if !slices.Contains(ti.scopes, "openid") {
		return s.tokenError(scheme, protocol.ErrInsufficientScope, "the token lacks the openid scope")
	}
	user, err := s.st.GetUser(ctx, ti.userID)
	if errors.Is(err, store.ErrNotFound) {
		return s.tokenError(scheme, protocol.ErrInvalidToken, "the user no longer exists")
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

// accessToken finds the access token and its scheme: Authorization:
// Bearer or DPoP, or access_token in a POST form body (Bearer); never the
// query (S054); two ways at once is invalid_request (S052, S169). No token
// at all is the bare challenge of RFC 6750 §3.1 for both schemes (S056,
// S168).
func (s *Server) accessToken(r *http.Request) (string, string, error) {
	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return "", "", bearerError(protocol.ErrInvalidRequest, "more than one Authorization header")
	}
	var token, scheme string
	if len(auth) == 1 {
		name, rest, _ := strings.Cut(auth[0], " ")
		switch {
		case strings.EqualFold(name, protocol.TokenTypeBearer):
			token, scheme = strings.TrimSpace(rest), protocol.TokenTypeBearer
		case strings.EqualFold(name, protocol.TokenTypeDPoP):
			token, scheme = strings.TrimSpace(rest), protocol.TokenTypeDPoP
		}
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, perr := protocol.ParseForm(r, protocol.MaxFormBytes)
		if perr != nil {
			return "", "", bearerError(protocol.ErrInvalidRequest, "the form body is malformed")
		}
		if form.Has("access_token") {
			if token != "" {
				return "", "", bearerError(protocol.ErrInvalidRequest, "send the access token one way, not two")
			}
			token, scheme = form.Get("access_token"), protocol.TokenTypeBearer
		}
	}
	if token == "" {
		return "", "", &protocol.Error{Status: http.StatusUnauthorized, Challenge: `Bearer realm="latchkey", ` + s.dpopChallenge("", "")}
	}
	return token, scheme, nil
}

// checkBinding enforces a token's DPoP binding at /userinfo (RFC 9449 §7):
// a bound token comes with the DPoP scheme and a proof of its key, made
// for this request and this token (S167); sent as Bearer it is refused
// (S169); and an unbound token is not accepted under the DPoP scheme.
func (s *Server) checkBinding(r *http.Request, scheme, raw string, ti tokenInfo) error {
	switch {
	case scheme == protocol.TokenTypeBearer && ti.jkt != "":
		return s.tokenError(protocol.TokenTypeDPoP, protocol.ErrInvalidToken, "the token is DPoP-bound: send it with the DPoP scheme and a proof")
	case scheme == protocol.TokenTypeBearer:
		return nil
	case ti.jkt == "":
		return s.tokenError(protocol.TokenTypeDPoP, protocol.ErrInvalidToken, "the token is not DPoP-bound: send it as Bearer")
	case len(r.Header.Values("DPoP")) == 0:
		return s.tokenError(protocol.TokenTypeDPoP, protocol.ErrInvalidDPoPProof, "a DPoP proof is required")
	}
	// The client decides whether its proofs need a nonce (require_dpop_nonce).
	c, err := s.st.GetClient(r.Context(), ti.clientID)
	if errors.Is(err, store.ErrNotFound) {
		return s.tokenError(protocol.TokenTypeDPoP, protocol.ErrInvalidToken, "the token's client no longer exists")
	}
	if err != nil {
		return fmt.Errorf("userinfo: look up client: %w", err)
	}
	jkt, err := s.proofAt(r, c, "/userinfo", raw)
	if err != nil {
		pe := protocol.AsError(err)
		if pe == nil {
			return err
		}
		e := s.tokenError(protocol.TokenTypeDPoP, pe.Code, pe.Description) // S171: 401 at a resource
		e.DPoPNonce = pe.DPoPNonce
		return e
	}
	if jkt != ti.jkt {
		return s.tokenError(protocol.TokenTypeDPoP, protocol.ErrInvalidToken, "the proof is signed by another key than the token is bound to")
	}
	return nil
}

// tokenError is an error of a protected resource in the challenge of the
// token's scheme: RFC 6750 §3 for Bearer, RFC 9449 §7.1 for DPoP, whose
// proof errors are 401 too.
func (s *Server) tokenError(scheme, code, desc string) *protocol.Error {
	if scheme != protocol.TokenTypeDPoP {
		return bearerError(code, desc)
	}
	e := &protocol.Error{Code: code, Description: desc, Challenge: s.dpopChallenge(code, desc)}
	if code == protocol.ErrInvalidDPoPProof || code == protocol.ErrUseDPoPNonce {
		e.Status = http.StatusUnauthorized
	}
	return e
}

// dpopChallenge is WWW-Authenticate: DPoP with the accepted algorithms
// (S168) and, when set, the error.
func (s *Server) dpopChallenge(code, desc string) string {
	c := `DPoP algs="` + strings.Join(s.cfg.DPoP.Algs, " ") + `"`
	if code != "" {
		c += `, error="` + code + `", error_description="` + protocol.SafeDescription(desc) + `"`
	}
	return c
}

// bearerError is an RFC 6750 §3 error: its code and description are in the
// WWW-Authenticate challenge as well as the body.
func bearerError(code, desc string) *protocol.Error {
	return &protocol.Error{Code: code, Description: desc, Challenge: `Bearer realm="latchkey", error="` + code +
		`", error_description="` + protocol.SafeDescription(desc) + `"`}
}
