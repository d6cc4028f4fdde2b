package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/audit"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

func badRefresh() *protocol.Error {
	return protocol.Errorf(protocol.ErrInvalidGrant, "the refresh token is invalid, expired or revoked")
}

// grantRefresh is RFC 6749 §6 with rotation (RFC 9700 §4.14.2): every use
// returns a new refresh token; presenting a rotated one again revokes the
// whole grant, unless the client has a grace window and the reuse is a
// concurrent refresh within it, which gets the same successor. A client
// registered with refresh_token_rotation: reuse (the FAPI 2.0 default)
// keeps its refresh token instead. Scope and resources may only narrow
// (S036, S206); the refresh token keeps the original ones. A token bound
// to a DPoP key needs a proof of that key (S164).
func (s *Server) grantRefresh(t tokenRequest) (protocol.TokenResponse, error) {
	raw := t.form.Get("refresh_token")
	if raw == "" {
		return protocol.TokenResponse{}, protocol.Errorf(protocol.ErrInvalidRequest, "refresh_token is required")
	}
	ctx := t.r.Context()
	now := s.now()
	old, err := s.st.GetRefreshToken(ctx, token.Digest(raw))
	if errors.Is(err, store.ErrNotFound) {
		return protocol.TokenResponse{}, badRefresh()
	}
	if err != nil {
		return protocol.TokenResponse{}, fmt.Errorf("refresh: look up token: %w", err)
	}
	if old.ClientID != t.client.ID { // S041: bound to its client
		return protocol.TokenResponse{}, badRefresh()
	}
	if old.JKT != "" && subtle.ConstantTimeCompare([]byte(old.JKT), []byte(t.jkt)) != 1 { // S164
		return protocol.TokenResponse{}, protocol.Errorf(protocol.ErrInvalidGrant, "the refresh token is bound to a DPoP key: send a proof of it")
	}
	scopes := old.Scopes
	if raw := t.form.Get("scope"); raw != "" {
		req, ok := protocol.ParseScope(raw)
		if !ok || !protocol.SubsetOf(req, old.Scopes) {
			return protocol.TokenResponse{}, protocol.Errorf(protocol.ErrInvalidScope, "the scope may only narrow on refresh")
		}
		if len(req) > 0 { // a blank scope means none was asked for
			scopes = req
		}
	}
	res, err := requestedResources(t, old.Resources, true)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	// An exchanged grant keeps its subject and act claim (RFC 8693 §4.1).
	is := issuance{client: t.client, scopes: scopes, grantID: old.GrantID, resources: res, granted: old.Resources, jkt: t.jkt,
		sub: old.GrantSubject, act: decodeAct(old.GrantAct)}
	if !s.rotates(t.client) {
		return s.refreshInPlace(t, old, raw, is, now)
	}
	if err := s.loadGrantContext(t, old, &is); err != nil {
		return protocol.TokenResponse{}, err
	}
	access, accessRec, err := s.mintAccess(t.context(), is, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	next := token.Successor(s.hmacKey, raw)
	_, err = s.st.RotateRefreshToken(ctx, store.Rotation{
		OldDigest: old.Digest, ClientID: t.client.ID, Access: accessRec, Now: now, Grace: t.client.RefreshGrace,
		Next: store.RefreshToken{
			Digest: token.Digest(next), GrantID: old.GrantID, ClientID: t.client.ID, UserID: old.UserID,
			Scopes: old.Scopes, Resources: old.Resources, JKT: old.JKT, CreatedAt: now, ExpiresAt: now.Add(s.refreshTTL(t.client)),
		},
	})
	switch {
	case errors.Is(err, store.ErrReused):
		s.log.WarnContext(ctx, "refresh token reused: grant revoked", "client_id", t.client.ID, "grant_id", old.GrantID)
		s.recordRevoking(t.r, audit.RefreshReuse, t.client.ID, old.UserID, old.GrantID, "")
		return protocol.TokenResponse{}, badRefresh()
	case errors.Is(err, store.ErrNotFound):
		return protocol.TokenResponse{}, badRefresh()
	case err != nil:
		return protocol.TokenResponse{}, fmt.Errorf("refresh: rotate: %w", err)
	}
	// A refreshed ID token keeps the original auth_time and carries no
	// nonce (OpenID Connect Core §12.2, S239).
	is.nonce = ""
	return s.respond(t.context(), is, access, next, now)
}

// rotates reports whether c's refresh tokens are replaced at every use:
// yes unless it chose reuse, or its profile is fapi2 and it chose nothing
// (FAPI 2.0 §5.3.2.1 asks servers not to rotate).
func (s *Server) rotates(c store.Client) bool {
	switch c.RefreshRotation {
	case "reuse":
		return false
	case "rotate":
		return true
	}
	return c.Profile != protocol.ProfileFAPI2
}

// refreshInPlace answers a refresh of a client whose refresh tokens are
// not rotated: the token must still be active, and it stays so. A rotated
// token (issued before the client switched) is never reused.
func (s *Server) refreshInPlace(t tokenRequest, old store.RefreshToken, raw string, is issuance, now time.Time) (protocol.TokenResponse, error) {
	if !old.RotatedAt.IsZero() || !old.RevokedAt.IsZero() || !old.GrantRevokedAt.IsZero() || !now.Before(old.ExpiresAt) {
		return protocol.TokenResponse{}, badRefresh()
	}
	g, err := s.st.GetGrant(t.r.Context(), old.GrantID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return protocol.TokenResponse{}, badRefresh()
	case err != nil:
		return protocol.TokenResponse{}, fmt.Errorf("refresh: look up grant: %w", err)
	case !g.RevokedAt.IsZero() || (!g.ExpiresAt.IsZero() && !now.Before(g.ExpiresAt)):
		return protocol.TokenResponse{}, badRefresh()
	}
	if err := s.loadGrantContext(t, old, &is); err != nil {
		return protocol.TokenResponse{}, err
	}
	access, accessRec, err := s.mintAccess(t.context(), is, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	if accessRec != nil {
		if err := s.st.SaveIssue(t.r.Context(), store.Issue{Access: accessRec}); err != nil {
			return protocol.TokenResponse{}, fmt.Errorf("refresh: store access token: %w", err)
		}
	}
	is.nonce = ""
	return s.respond(t.context(), is, access, raw, now)
}

// loadGrantContext fills in the user and, when an ID token will be
// issued, the original authentication time.
func (s *Server) loadGrantContext(t tokenRequest, old store.RefreshToken, is *issuance) error {
	ctx := t.r.Context()
	if old.UserID == "" {
		return nil
	}
	user, err := s.st.GetUser(ctx, old.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && user.Disabled() {
		return badRefresh()
	}
	if err != nil {
		return fmt.Errorf("refresh: look up user: %w", err)
	}
	is.user = &user
	if !slices.Contains(is.scopes, "openid") {
		return nil
	}
	g, err := s.st.GetGrant(ctx, old.GrantID)
	if errors.Is(err, store.ErrNotFound) {
		return badRefresh()
	}
	if err != nil {
		return fmt.Errorf("refresh: look up grant: %w", err)
	}
	is.authTime, is.sid, is.amr, is.acr = g.AuthTime, g.SessionID, g.AMR, g.ACR
	return nil
}
