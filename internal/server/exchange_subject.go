package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// exchangeToken is what Latchkey verified of a subject or actor token of a
// token exchange (RFC 8693 §2.1).
type exchangeToken struct {
	subject  string
	userID   string      // when subject is a Latchkey user
	user     *store.User // that user, read once
	clientID string      // the client it was issued to; "" for an external token
	issuer   string      // "" for Latchkey's own tokens
	scopes   []string
	audience []string
	grantID  string // "" when it rests on no grant
	expiry   time.Time
	act      *token.Actor
	// identity marks an ID token: it proves who the user is and carries
	// no scope or resource of its own.
	identity bool
}

// badExchangeToken is the one answer to a subject or actor token that is
// unknown, forged, expired, revoked or of another type than stated: the
// description never says which.
func badExchangeToken(which string) *protocol.Error {
	return protocol.Errorf(protocol.ErrInvalidGrant, "the %s is invalid, expired or revoked", which)
}

// resolveExchangeToken verifies raw as a token of type typ (RFC 8693 §3)
// presented by client and returns what it says, or invalid_grant when it
// is not an active token Latchkey issued, nor (type jwt) one of a trusted
// issuer that client may present. The description names which token it
// was, never what was wrong with it.
func (s *Server) resolveExchangeToken(ctx context.Context, client store.Client, raw, typ, which string, now time.Time) (exchangeToken, error) {
	var ti tokenInfo
	var ok bool
	var err error
	switch {
	case typ == protocol.TokenTypeIDToken:
		return s.resolveIDToken(ctx, client, raw, which, now)
	case typ == protocol.TokenTypeRefreshToken && token.HasPrefix(raw, token.PrefixRefresh):
		ti, ok, err = s.lookupRefresh(ctx, raw, now)
	case typ == protocol.TokenTypeAccessToken && token.HasPrefix(raw, token.PrefixAccess):
		ti, ok, err = s.lookupOpaque(ctx, raw, now)
	case (typ == protocol.TokenTypeAccessToken || typ == protocol.TokenTypeJWT) && strings.Count(raw, ".") == 2:
		ti, ok, err = s.lookupJWT(ctx, raw, now)
	}
	if err != nil {
		return exchangeToken{}, fmt.Errorf("token exchange: %s: %w", which, err)
	}
	if !ok && typ == protocol.TokenTypeJWT {
		return s.resolveExternal(ctx, client, raw, which, now)
	}
	switch {
	case !ok:
		return exchangeToken{}, s.refusedExchange(ctx, client, which, "not a token Latchkey issued, or not of the stated type")
	case !ti.active || !now.Before(ti.expiry):
		return exchangeToken{}, s.refusedExchange(ctx, client, which, "revoked or expired")
	}
	tok := exchangeToken{
		subject: ti.subject, userID: ti.userID, clientID: ti.clientID, scopes: ti.scopes,
		audience: ti.audience, grantID: ti.grantID, expiry: ti.expiry, act: ti.act,
	}
	return s.withUser(ctx, tok, which)
}

// resolveIDToken verifies an ID token Latchkey issued: signature, type,
// issuer, and expiry (unlike an id_token_hint, it must be current). Its
// aud is the client it was issued to; it rests on no grant.
func (s *Server) resolveIDToken(ctx context.Context, client store.Client, raw, which string, now time.Time) (exchangeToken, error) {
	claims, err := token.VerifyID(s.keys, raw, s.issuer)
	if err != nil {
		return exchangeToken{}, s.refusedExchange(ctx, client, which, "not an ID token Latchkey issued")
	}
	exp, _ := claims["exp"].(float64)
	sub, _ := claims["sub"].(string)
	aud := audienceOf(claims["aud"])
	if sub == "" || len(aud) == 0 || float64(now.Unix()) >= exp {
		return exchangeToken{}, s.refusedExchange(ctx, client, which, "ID token expired or without sub or aud")
	}
	clientID, _ := claims["azp"].(string)
	if clientID == "" && len(aud) == 1 {
		clientID = aud[0]
	}
	tok := exchangeToken{subject: sub, clientID: clientID, audience: aud, expiry: time.Unix(int64(exp), 0), identity: true}
	if isUserSubject(sub) {
		tok.userID = sub
	}
	return s.withUser(ctx, tok, which)
}

// resolveExternal verifies raw as a JWT of a trusted issuer that client
// may present. Its scopes are the most the issuer's configuration allows;
// it rests on no grant and names no user. verifyExternal logs why it
// refused a token, for the operator; the client hears only invalid_grant.
func (s *Server) resolveExternal(ctx context.Context, client store.Client, raw, which string, now time.Time) (exchangeToken, error) {
	ext, err := s.verifyExternal(ctx, raw, client, now)
	if perr, ok := errors.AsType[*protocol.Error](err); ok && perr.Code == protocol.ErrInvalidGrant {
		return exchangeToken{}, badExchangeToken(which)
	}
	if err != nil {
		return exchangeToken{}, err
	}
	return exchangeToken{subject: ext.Subject, issuer: ext.Issuer, scopes: ext.Scopes, expiry: ext.Expiry}, nil
}

// refusedExchange logs why a token was refused, for the operator (never
// the token), and returns the one answer the client gets.
func (s *Server) refusedExchange(ctx context.Context, client store.Client, which, reason string) error {
	s.log.InfoContext(ctx, "token exchange refused", "client_id", client.ID, "token", which, "reason", reason)
	return badExchangeToken(which)
}

// audienceOf reads an aud claim, a string or an array of strings.
func audienceOf(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// withUser adds the token's user, and refuses a token whose user no
// longer exists.
func (s *Server) withUser(ctx context.Context, tok exchangeToken, which string) (exchangeToken, error) {
	if tok.userID == "" {
		return tok, nil
	}
	u, err := s.st.GetUser(ctx, tok.userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return exchangeToken{}, badExchangeToken(which)
	case err != nil:
		return exchangeToken{}, fmt.Errorf("token exchange: look up user: %w", err)
	}
	tok.user = &u
	return tok, nil
}

// mayExchange is the client's token exchange policy: a subject token is
// accepted when it was issued to one of the clients it lists, or when its
// aud names the client or one of its resources (so the token was meant for
// this client to receive). A trusted issuer's token is accepted when the
// issuer's allowed_clients name the client, which verifyExternal checked.
func mayExchange(c store.Client, tok exchangeToken) bool {
	if tok.issuer != "" {
		return true
	}
	if tok.clientID != "" && tok.issuer == "" && slices.Contains(c.TokenExchange.AllowedSubjectClients, tok.clientID) {
		return true
	}
	for _, a := range tok.audience {
		if a == c.ID || slices.Contains(c.Resources, a) {
			return true
		}
	}
	return false
}

// subjectGrant returns the grant the subject token rests on, or nil when
// it rests on none. lookupToken has checked that it stands.
func (s *Server) subjectGrant(ctx context.Context, tok exchangeToken, now time.Time) (*store.Grant, error) {
	if tok.grantID == "" {
		return nil, nil
	}
	g, err := s.st.GetGrant(ctx, tok.grantID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, badExchangeToken("subject token")
	case err != nil:
		return nil, fmt.Errorf("token exchange: look up grant: %w", err)
	case !g.RevokedAt.IsZero() || (!g.ExpiresAt.IsZero() && !now.Before(g.ExpiresAt)):
		return nil, badExchangeToken("subject token")
	}
	return &g, nil
}
