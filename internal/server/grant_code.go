package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/audit"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

func badCode() *protocol.Error {
	return protocol.Errorf(protocol.ErrInvalidGrant, "the authorization code is invalid, expired or already used")
}

// grantAuthorizationCode is RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6). The
// client is authenticated already; every check on the request runs before
// the code is consumed, and a request that fails one changes nothing (S143).
// A valid request for a code used before revokes everything issued from
// its first use (S019, S142).
func (s *Server) grantAuthorizationCode(t tokenRequest) (protocol.TokenResponse, error) {
	raw := t.form.Get("code")
	if raw == "" {
		return protocol.TokenResponse{}, protocol.Errorf(protocol.ErrInvalidRequest, "code is required")
	}
	ctx := t.r.Context()
	now := s.now()
	digest := token.Digest(raw)
	code, err := s.st.GetAuthCode(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.TokenResponse{}, badCode()
	}
	if err != nil {
		return protocol.TokenResponse{}, fmt.Errorf("code: look up: %w", err)
	}
	if err := checkCodeRequest(code, t); err != nil {
		return protocol.TokenResponse{}, err
	}
	if !code.ConsumedAt.IsZero() {
		return protocol.TokenResponse{}, s.codeReplayed(t, code)
	}
	if !now.Before(code.ExpiresAt) {
		return protocol.TokenResponse{}, badCode()
	}
	user, err := s.st.GetUser(ctx, code.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && user.Disabled() {
		return protocol.TokenResponse{}, badCode()
	}
	if err != nil {
		return protocol.TokenResponse{}, fmt.Errorf("code: look up user: %w", err)
	}
	res, err := requestedResources(t, code.Resources, true)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	is := issuance{client: t.client, user: &user, scopes: code.Scopes, authTime: code.AuthTime, nonce: code.Nonce,
		resources: res, granted: code.Resources, jkt: t.jkt, sid: code.SessionID, amr: code.AMR, acr: code.ACR}
	m, iss, err := s.grantTokens(t, &is, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	err = s.st.RedeemAuthCode(ctx, digest, now, iss)
	switch {
	case errors.Is(err, store.ErrConflict): // a concurrent redemption won
		code, err = s.st.GetAuthCode(ctx, digest)
		if err != nil {
			return protocol.TokenResponse{}, fmt.Errorf("code: reload: %w", err)
		}
		return protocol.TokenResponse{}, s.codeReplayed(t, code)
	case errors.Is(err, store.ErrNotFound):
		return protocol.TokenResponse{}, badCode()
	case err != nil:
		return protocol.TokenResponse{}, fmt.Errorf("code: redeem: %w", err)
	}
	return s.respond(t.context(), is, m.access, m.refresh, now)
}

// checkCodeRequest runs every check that does not consume the code: the
// code is this client's (S023), the redirect_uri is the one of the
// authorization request (S022, S043), the code has a PKCE challenge that
// the verifier matches (S067, S105, S141), and a code bound to a DPoP key
// comes with a proof of that key (S172).
func checkCodeRequest(code store.AuthCode, t tokenRequest) error {
	if code.ClientID != t.client.ID {
		return badCode()
	}
	redirect := t.form.Get("redirect_uri")
	if (code.RedirectURIGiven || redirect != "") && redirect != code.RedirectURI {
		return protocol.Errorf(protocol.ErrInvalidGrant, "redirect_uri differs from the authorization request")
	}
	verifier := t.form.Get("code_verifier")
	if code.CodeChallenge == "" {
		// PKCE is required of every client (S107, S139), so a code without
		// a challenge was not made by /authorize: refuse it, with or
		// without a verifier (S105, S141).
		return protocol.Errorf(protocol.ErrInvalidGrant, "the code is not bound to a PKCE challenge")
	}
	if !protocol.VerifyPKCE(verifier, code.CodeChallenge) {
		return protocol.Errorf(protocol.ErrInvalidGrant, "code_verifier does not match the code challenge")
	}
	if code.DPoPJKT != "" && subtle.ConstantTimeCompare([]byte(code.DPoPJKT), []byte(t.jkt)) != 1 { // S172
		return protocol.Errorf(protocol.ErrInvalidGrant, "the code is bound to another DPoP key than the proof's")
	}
	return nil
}

// codeReplayed answers a second, otherwise valid redemption: the grant of
// the first is revoked with its tokens (RFC 6749 §4.1.2, S019, S142).
func (s *Server) codeReplayed(t tokenRequest, code store.AuthCode) error {
	ctx := t.r.Context()
	if code.GrantID != "" {
		if err := s.st.RevokeGrant(ctx, code.GrantID, s.now()); err != nil {
			return fmt.Errorf("code: revoke replayed grant: %w", err)
		}
	}
	s.log.WarnContext(ctx, "authorization code replayed: grant revoked", "client_id", t.client.ID, "grant_id", code.GrantID)
	s.recordRevoking(t.r, audit.CodeReplay, t.client.ID, code.UserID, code.GrantID, "authorization_code")
	return badCode()
}
