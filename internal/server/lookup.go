package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// tokenInfo is what Latchkey knows about a token presented to it.
type tokenInfo struct {
	refresh  bool
	active   bool
	clientID string
	subject  string
	userID   string
	scopes   []string
	audience []string
	issuedAt time.Time
	expiry   time.Time
	jti      string
	grantID  string
	// jkt is the DPoP key the token is bound to, or "".
	jkt string
	// act is the token's act claim (RFC 8693 §4.1), or nil.
	act *token.Actor
	// amr and acr are how the user signed in, from a JWT's claims; for
	// opaque and refresh tokens describe reads them from the grant.
	amr []string
	acr string
}

// isUserSubject reports whether sub names a Latchkey user: user ids never
// contain a colon, client ("client:…") and external ("<issuer>:…")
// subjects always do.
func isUserSubject(sub string) bool { return sub != "" && !strings.Contains(sub, ":") }

// lookupToken finds out what raw is, whatever the hint says (RFC 7009
// §2.1, RFC 7662 §2.1): a JWT access token is verified and checked against
// revocations of its jti and grant; opaque values are looked up by digest.
// ok is false for anything Latchkey did not issue.
func (s *Server) lookupToken(ctx context.Context, raw string) (tokenInfo, bool, error) {
	now := s.now()
	switch {
	case token.HasPrefix(raw, token.PrefixRefresh):
		return s.lookupRefresh(ctx, raw, now)
	case token.HasPrefix(raw, token.PrefixAccess):
		return s.lookupOpaque(ctx, raw, now)
	case strings.Count(raw, ".") == 2:
		return s.lookupJWT(ctx, raw, now)
	}
	return tokenInfo{}, false, nil
}

func (s *Server) lookupJWT(ctx context.Context, raw string, now time.Time) (tokenInfo, bool, error) {
	c, err := token.VerifyAccess(s.keys, raw, s.issuer, now)
	if err != nil {
		return tokenInfo{}, false, nil
	}
	ti := tokenInfo{
		clientID: c.ClientID, subject: c.Subject, audience: c.Audience, jti: c.JTI, grantID: c.GrantID,
		issuedAt: time.Unix(c.IssuedAt, 0), expiry: time.Unix(c.Expiry, 0), act: c.Actor, amr: c.AMR, acr: c.ACR,
	}
	ti.scopes = strings.Fields(c.Scope)
	if c.Confirmation != nil {
		ti.jkt = c.Confirmation.JKT
	}
	if isUserSubject(c.Subject) {
		ti.userID = c.Subject
	}
	revoked, err := s.st.IsRevoked(ctx, c.JTI, c.GrantID)
	if err != nil {
		return tokenInfo{}, false, fmt.Errorf("check revocation: %w", err)
	}
	ti.active = !revoked
	if ti.active {
		// A token ends with its client. A token with no grant (client
		// credentials) has nothing else to end it before its exp, and an
		// exchanged token rests on the subject's grant, which is another
		// client's: deleting its own client deletes neither. A cached read.
		if ti.active, err = s.clientExists(ctx, c.ClientID); err != nil {
			return tokenInfo{}, false, err
		}
	}
	return ti, true, nil
}

// clientExists reports whether the client is still registered, through
// the read cache.
func (s *Server) clientExists(ctx context.Context, id string) (bool, error) {
	_, err := s.st.GetClient(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up the token's client: %w", err)
	}
	return true, nil
}

func (s *Server) lookupOpaque(ctx context.Context, raw string, now time.Time) (tokenInfo, bool, error) {
	at, err := s.st.GetAccessToken(ctx, token.Digest(raw))
	if errors.Is(err, store.ErrNotFound) {
		return tokenInfo{}, false, nil
	}
	if err != nil {
		return tokenInfo{}, false, fmt.Errorf("look up access token: %w", err)
	}
	ti := tokenInfo{
		clientID: at.ClientID, subject: at.Subject, userID: at.UserID, scopes: at.Scopes, audience: at.Audience,
		issuedAt: at.CreatedAt, expiry: at.ExpiresAt, jti: at.JTI, grantID: at.GrantID, jkt: at.JKT,
		act: decodeAct(at.Act),
	}
	revoked, err := s.st.IsRevoked(ctx, at.JTI, at.GrantID)
	if err != nil {
		return tokenInfo{}, false, fmt.Errorf("check revocation: %w", err)
	}
	ti.active = !revoked && now.Before(at.ExpiresAt)
	return ti, true, nil
}

func (s *Server) lookupRefresh(ctx context.Context, raw string, now time.Time) (tokenInfo, bool, error) {
	rt, err := s.st.GetRefreshToken(ctx, token.Digest(raw))
	if errors.Is(err, store.ErrNotFound) {
		return tokenInfo{}, false, nil
	}
	if err != nil {
		return tokenInfo{}, false, fmt.Errorf("look up refresh token: %w", err)
	}
	ti := tokenInfo{
		refresh: true, clientID: rt.ClientID, userID: rt.UserID, subject: rt.UserID, scopes: rt.Scopes,
		issuedAt: rt.CreatedAt, expiry: rt.ExpiresAt, grantID: rt.GrantID, jkt: rt.JKT, act: decodeAct(rt.GrantAct),
	}
	switch {
	case rt.GrantSubject != "": // an exchanged grant for a client or external subject
		ti.subject = rt.GrantSubject
	case ti.subject == "":
		ti.subject = ClientSubjectPrefix + rt.ClientID
	}
	ti.active = rt.RotatedAt.IsZero() && rt.RevokedAt.IsZero() && rt.GrantRevokedAt.IsZero() && now.Before(rt.ExpiresAt)
	if !ti.active {
		return ti, true, nil
	}
	// The grant's absolute lifetime bounds the whole chain (S135): past
	// it the token can no longer be refreshed, so it is not active either.
	g, err := s.st.GetGrant(ctx, rt.GrantID)
	if errors.Is(err, store.ErrNotFound) {
		ti.active = false
		return ti, true, nil
	}
	if err != nil {
		return tokenInfo{}, false, fmt.Errorf("look up grant: %w", err)
	}
	if !g.ExpiresAt.IsZero() && g.ExpiresAt.Before(ti.expiry) {
		ti.expiry = g.ExpiresAt
		ti.active = now.Before(g.ExpiresAt)
	}
	return ti, true, nil
}
