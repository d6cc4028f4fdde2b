package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// tokenTypeNA is the token_type of an issued token that is not an access
// token (RFC 8693 §2.2.1).
const tokenTypeNA = "N_A"

// grantTokenExchange is RFC 8693: a confidential client trades a token it
// received (the subject token) for one to call another service for the
// same subject. What it may exchange is its policy (mayExchange); what it
// gets may only narrow what the subject token carries; the issued token
// names who acts (act, delegation) unless the client may impersonate; and
// it rests on the subject's grant (a child grant of it when a refresh
// token is issued too), so that revoking what the user granted revokes
// what was exchanged from it.
func (s *Server) grantTokenExchange(t tokenRequest) (protocol.TokenResponse, error) {
	// 1. The request's form.
	x, perr := parseExchange(t.form)
	if perr != nil {
		return protocol.TokenResponse{}, perr
	}
	wantRefresh := x.requestedType == protocol.TokenTypeRefreshToken
	if wantRefresh && !s.exchangeRefreshes(t.client) {
		return protocol.TokenResponse{}, protocol.Errorf(protocol.ErrInvalidRequest, "this client may not ask token exchange for refresh tokens")
	}
	ctx := t.r.Context()
	now := s.now()
	// 2. The subject token: active, Latchkey's, and one this client may exchange.
	subj, err := s.resolveExchangeToken(ctx, t.client, x.subjectToken, x.subjectType, "subject token", now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	if !mayExchange(t.client, subj) { // answered as a bad token: no oracle for tokens held by others
		return protocol.TokenResponse{}, s.refusedExchange(ctx, t.client, "subject token",
			"issued to a client not in allowed_subject_clients, for an audience not the client's")
	}
	parent, err := s.subjectGrant(ctx, subj, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	// 3. Who acts, from verified tokens only.
	act, err := s.exchangeActor(ctx, t.client, x, subj, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	// 4. What the issued token may do: only ever less than the subject.
	scopes, err := exchangeScopes(x, subj, t.client)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	aud, err := s.exchangeTargets(x, subj, parent, t.client)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	// 5. Issue under a child grant, for the subject's user, or else under
	// its subject (a client or an external subject).
	is := issuance{client: t.client, user: subj.user, scopes: scopes, resources: aud, granted: aud, jkt: t.jkt, act: act}
	if subj.user == nil {
		is.sub = subj.subject
	}
	return s.issueExchange(t, &is, subj, parent, wantRefresh, now)
}

// exchangeRefreshes reports whether c may receive refresh tokens from
// token exchange: its policy says so and it may use them.
func (s *Server) exchangeRefreshes(c store.Client) bool {
	return c.TokenExchange.RefreshTokens && slices.Contains(c.GrantTypes, protocol.GrantRefreshToken)
}

// exchangeActor is the act claim of the issued token (RFC 8693 §4.1): the
// actor token's subject when one is sent, else the client itself unless
// it may impersonate; the actor token's own chain nested inside, and the
// subject token's chain, the earlier actors, innermost. An actor token
// must be issued to the client presenting it, or come from a trusted
// issuer whose tokens it may present: a client may not name a party as
// actor by showing a token it merely holds.
func (s *Server) exchangeActor(ctx context.Context, c store.Client, x exchangeRequest, subj exchangeToken, now time.Time) (*token.Actor, error) {
	var head *token.Actor
	switch {
	case x.actorToken != "":
		a, err := s.resolveExchangeToken(ctx, c, x.actorToken, x.actorType, "actor token", now)
		if err != nil {
			return nil, err
		}
		if a.issuer == "" && a.clientID != c.ID {
			return nil, s.refusedExchange(ctx, c, "actor token", "issued to another client than the one presenting it")
		}
		head = actorOf(a)
	case !c.TokenExchange.Impersonation:
		head = clientActor(c)
	}
	act := chainActors(head, subj.act)
	if actDepth(act) > maxActDepth {
		return nil, protocol.Errorf(protocol.ErrInvalidRequest, "the delegation chain would be longer than %d actors", maxActDepth)
	}
	return act, nil
}

// exchangeScopes narrows: the issued scope is at most what the subject
// token carries and the client may have (an ID token carries none of its
// own: the client's then); none asked means all of that.
func exchangeScopes(x exchangeRequest, subj exchangeToken, c store.Client) ([]string, error) {
	var allowed, base []string
	switch {
	case subj.identity:
		allowed, base = c.Scopes, c.Scopes
		if len(c.DefaultScopes) > 0 {
			base = c.DefaultScopes
		}
	default:
		for _, sc := range subj.scopes {
			if slices.Contains(c.Scopes, sc) {
				allowed = append(allowed, sc)
			}
		}
		base = allowed
	}
	if len(x.scopes) == 0 {
		return slices.Clone(base), nil
	}
	if !protocol.SubsetOf(x.scopes, allowed) {
		return nil, protocol.Errorf(protocol.ErrInvalidScope, "a requested scope is beyond what the subject token carries or the client may have")
	}
	return x.scopes, nil
}

// exchangeTargets narrows the audience (RFC 8693 §2.1, RFC 8707): each
// resource or audience asked for must be carried by the subject (its
// grant's resources, what the user consented to, or else its aud) and be
// one the client may address (its resources or audience). None asked
// means every carried one the client may address, or, when there is none,
// Latchkey itself: never a wider audience than the subject's.
func (s *Server) exchangeTargets(x exchangeRequest, subj exchangeToken, parent *store.Grant, c store.Client) ([]string, error) {
	carried := subj.audience
	if parent != nil && len(parent.Resources) > 0 {
		carried = parent.Resources
	}
	// An ID token or an external token names no resource of Latchkey's:
	// the client's own bound it alone.
	open := subj.identity || subj.issuer != ""
	may := func(target string) bool {
		return (open || slices.Contains(carried, target)) &&
			(slices.Contains(c.Resources, target) || slices.Contains(c.Audience, target))
	}
	asked := dedupe(append(slices.Clone(x.resources), x.audiences...))
	if len(asked) == 0 && open {
		return nil, nil // the client's default audience, as for its other grants
	}
	if len(asked) == 0 {
		var out []string
		for _, target := range carried {
			if may(target) && !slices.Contains(out, target) {
				out = append(out, target)
			}
		}
		if len(out) == 0 {
			return []string{s.issuer}, nil
		}
		return out, nil
	}
	for _, target := range asked {
		if !may(target) {
			return nil, protocol.Errorf(protocol.ErrInvalidTarget, "a requested resource or audience is beyond what the subject token carries or the client may address")
		}
	}
	return asked, nil
}

// issueExchange stores the child grant with what it issues and answers
// (RFC 8693 §2.2.1). The issued token lives no longer than the subject
// token unless the policy allows it, and never longer than the subject's
// grant; nor does the child grant.
func (s *Server) issueExchange(t tokenRequest, is *issuance, subj exchangeToken, parent *store.Grant, wantRefresh bool, now time.Time) (protocol.TokenResponse, error) {
	end := subj.expiry
	if t.client.TokenExchange.BeyondSubjectLifetime {
		end = time.Time{}
	}
	if parent != nil && !parent.ExpiresAt.IsZero() && (end.IsZero() || parent.ExpiresAt.Before(end)) {
		end = parent.ExpiresAt
	}
	life := s.accessTTL(t.client)
	if !end.IsZero() {
		life = min(life, end.Sub(now).Truncate(time.Second))
	}
	if life < time.Second { // nothing worth issuing is left of the subject's life
		return protocol.TokenResponse{}, badExchangeToken("subject token")
	}
	is.life = life
	if !s.exchangeRefreshes(t.client) {
		return s.issueExchangedAccess(t, is, subj, now)
	}
	g, err := s.childGrant(is, subj, parent, end, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	iss := store.Issue{Grant: g}
	var access, refresh string
	if !wantRefresh {
		if access, iss.Access, err = s.mintAccess(t.context(), *is, now); err != nil {
			return protocol.TokenResponse{}, err
		}
	}
	if s.exchangeRefreshes(t.client) {
		if refresh, iss.Refresh, err = s.newRefresh(*is, now); err != nil {
			return protocol.TokenResponse{}, err
		}
		if iss.Refresh.ExpiresAt.After(g.ExpiresAt) {
			iss.Refresh.ExpiresAt = g.ExpiresAt
		}
	}
	if err := s.st.SaveIssue(t.r.Context(), iss); errors.Is(err, store.ErrNotFound) {
		return protocol.TokenResponse{}, badExchangeToken("subject token") // its grant fell meanwhile
	} else if err != nil {
		return protocol.TokenResponse{}, fmt.Errorf("token exchange: store grant: %w", err)
	}
	return exchangeResponse(*is, access, refresh, iss, wantRefresh, now), nil
}

// issueExchangedAccess issues an exchanged access token that no refresh
// token outlives, so it needs no grant of its own: it carries its
// subject's grant (gid), and revoking what the user granted revokes it
// with the grant, at no write here. An exchange racing that revocation
// cannot outlive it either: the token is checked against the grant when
// it is used. A JWT costs no database write at all; an opaque token
// stores its own record, as elsewhere.
func (s *Server) issueExchangedAccess(t tokenRequest, is *issuance, subj exchangeToken, now time.Time) (protocol.TokenResponse, error) {
	is.grantID = subj.grantID
	access, rec, err := s.mintAccess(t.context(), *is, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	iss := store.Issue{Access: rec}
	if rec != nil {
		if err := s.st.SaveIssue(t.r.Context(), iss); err != nil {
			return protocol.TokenResponse{}, fmt.Errorf("token exchange: store token: %w", err)
		}
	}
	return exchangeResponse(*is, access, "", iss, false, now), nil
}

// exchangeResponse is RFC 8693 §2.2.1's answer: issued_token_type always;
// a refresh token asked for comes in access_token with token_type N_A.
func exchangeResponse(is issuance, access, refresh string, iss store.Issue, wantRefresh bool, now time.Time) protocol.TokenResponse {
	resp := protocol.TokenResponse{Scope: protocol.JoinScope(is.scopes)}
	if wantRefresh {
		resp.AccessToken, resp.IssuedTokenType, resp.TokenType = refresh, protocol.TokenTypeRefreshToken, tokenTypeNA
		resp.ExpiresIn = int64(iss.Refresh.ExpiresAt.Sub(now) / time.Second)
		return resp
	}
	resp.AccessToken, resp.IssuedTokenType, resp.TokenType = access, protocol.TokenTypeAccessToken, protocol.TokenTypeBearer
	if is.jkt != "" {
		resp.TokenType = protocol.TokenTypeDPoP // S163
	}
	resp.ExpiresIn, resp.RefreshToken = int64(is.life/time.Second), refresh
	return resp
}

// childGrant is the grant of an exchange: under the subject's grant when
// it has one, ending at end (or when its tokens would) and never after
// its parent.
func (s *Server) childGrant(is *issuance, subj exchangeToken, parent *store.Grant, end, now time.Time) (*store.Grant, error) {
	id, err := randomID(s.rand)
	if err != nil {
		return nil, err
	}
	is.grantID = id
	expires := now.Add(is.life)
	if s.exchangeRefreshes(is.client) {
		expires = now.Add(max(is.life, s.cfg.RefreshTokenAbsoluteTTL))
		if !end.IsZero() && end.Before(expires) {
			expires = end
		}
	}
	g := &store.Grant{ID: id, ClientID: is.client.ID, ParentID: subj.grantID, Subject: is.sub, Act: encodeAct(is.act),
		Scopes: is.scopes, Resources: is.granted, CreatedAt: now, ExpiresAt: expires}
	if is.user != nil {
		g.UserID = is.user.ID
	}
	if parent != nil {
		g.AuthTime = parent.AuthTime
	}
	return g, nil
}
