package server

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// ClientSubjectPrefix starts the sub of every token issued to a client on
// its own behalf (client credentials). User subjects never contain a colon,
// so the two can never be confused (RFC 9068 §2.2, RFC 9700 §4.15, S087).
const ClientSubjectPrefix = "client:"

// issuance describes the tokens one response carries.
type issuance struct {
	client   store.Client
	user     *store.User // nil for client credentials
	scopes   []string
	grantID  string
	authTime time.Time
	// amr and acr are how the user signed in (OpenID Connect Core §2),
	// or empty when not known (the device grant).
	amr   []string
	acr   string
	nonce string
	// resources are the access token's audience (RFC 8707 §2, S205);
	// granted are those the grant holds, which later requests may narrow.
	resources, granted []string
	// jkt binds the access token to a DPoP key (RFC 9449 §6, cnf.jkt); a
	// public client's refresh token is bound with it too (S164).
	jkt string
	// sub, when set, is the subject of a token issued for neither a
	// Latchkey user nor the client itself: an external workload's
	// namespaced subject (RFC 7523 §2.1, token exchange).
	sub string
	// act is the act claim of an exchanged token (RFC 8693 §4.1), or nil.
	act *token.Actor
	// life, when positive, is the access token's lifetime instead of the
	// client's (token exchange caps it at the subject token's).
	life time.Duration
	// sid is the browser session the grant was approved in, or "": kept
	// on the grant, and the sid claim of ID tokens for clients registered
	// for back-channel logout.
	sid string
}

func (is issuance) subject() string {
	if is.sub != "" {
		return is.sub
	}
	if is.user != nil {
		return is.user.ID
	}
	return ClientSubjectPrefix + is.client.ID
}

func (s *Server) accessTTL(c store.Client) time.Duration {
	if c.AccessTokenTTL > 0 {
		return c.AccessTokenTTL
	}
	return s.cfg.AccessTokenTTL
}

// accessLife is the lifetime of is's access token.
func (s *Server) accessLife(is issuance) time.Duration {
	if is.life > 0 {
		return is.life
	}
	return s.accessTTL(is.client)
}

func (s *Server) refreshTTL(c store.Client) time.Duration {
	if c.RefreshTokenTTL > 0 {
		return c.RefreshTokenTTL
	}
	return s.cfg.RefreshTokenTTL
}

// audience is the aud of is's access token: the resources asked for, or
// the client's configured audience, or the issuer.
func (s *Server) audience(is issuance) []string {
	if len(is.resources) > 0 {
		return is.resources
	}
	if len(is.client.Audience) > 0 {
		return is.client.Audience
	}
	return []string{s.issuer}
}

// mintAccess makes the access token of is: a JWT (RFC 9068) that nothing
// needs to store, or, for clients that asked for them, an opaque token
// whose record the caller must store. It notes the token's ids in the
// request's info, from which the token endpoint records token.issued.
func (s *Server) mintAccess(ctx context.Context, is issuance, now time.Time) (string, *store.AccessToken, error) {
	jti, err := randomID(s.rand)
	if err != nil {
		return "", nil, err
	}
	issued := &issuedToken{jti: jti, grantID: is.grantID, subject: is.subject(), scopes: is.scopes}
	if is.user != nil {
		issued.userID = is.user.ID
	}
	info(ctx).issued = issued
	exp := now.Add(s.accessLife(is))
	if is.client.AccessTokenFormat == "opaque" {
		value, digest, err := token.New(token.PrefixAccess, s.rand)
		if err != nil {
			return "", nil, err
		}
		rec := &store.AccessToken{
			Digest: digest, JTI: jti, GrantID: is.grantID, ClientID: is.client.ID, Subject: is.subject(),
			Scopes: is.scopes, Audience: s.audience(is), JKT: is.jkt, Act: encodeAct(is.act), CreatedAt: now, ExpiresAt: exp,
		}
		if is.user != nil {
			rec.UserID = is.user.ID
		}
		return value, rec, nil
	}
	claims := token.AccessClaims{
		Issuer: s.issuer, Subject: is.subject(), Audience: s.audience(is),
		Expiry: exp.Unix(), IssuedAt: now.Unix(), JTI: jti, ClientID: is.client.ID,
		Scope: protocol.JoinScope(is.scopes), GrantID: is.grantID,
	}
	if is.jkt != "" {
		claims.Confirmation = &token.Confirmation{JKT: is.jkt}
	}
	claims.Actor = is.act
	if !is.authTime.IsZero() {
		claims.AuthTime = is.authTime.Unix()
	}
	claims.AMR, claims.ACR = is.amr, is.acr // RFC 9068 §2.2.1
	_, sp := s.span(ctx, "sign access_token")
	at, err := token.MintAccess(s.keys, s.cfg.AccessTokenAlg, claims)
	endSpan(sp, err)
	if err != nil {
		return "", nil, fmt.Errorf("mint access token: %w", err)
	}
	return at, nil, nil
}

// mintID makes an ID token (OpenID Connect Core §2) when openid was
// granted to a user; otherwise it returns "".
func (s *Server) mintID(ctx context.Context, is issuance, accessToken string, now time.Time) (string, error) {
	if is.user == nil || !slices.Contains(is.scopes, "openid") {
		return "", nil
	}
	extra := userClaims(*is.user, is.scopes)
	if sid := sidFor(is.client, is.sid); sid != "" {
		extra["sid"] = sid // Back-Channel Logout 1.0 §2.1
	}
	if len(is.amr) > 0 {
		extra["amr"] = is.amr
	}
	if is.acr != "" {
		extra["acr"] = is.acr
	}
	_, sp := s.span(ctx, "sign id_token")
	id, err := token.MintID(s.keys, s.idTokenAlg(is.client), token.IDClaims{
		Issuer: s.issuer, Subject: is.user.ID, Audience: is.client.ID,
		Expiry: now.Add(s.cfg.IDTokenTTL), IssuedAt: now, AuthTime: is.authTime,
		Nonce: is.nonce, AccessToken: accessToken, Extra: extra,
	})
	endSpan(sp, err)
	if err != nil {
		return "", fmt.Errorf("mint ID token: %w", err)
	}
	return id, nil
}

// newGrant starts a grant for is.
func (s *Server) newGrant(is *issuance, now time.Time) (*store.Grant, error) {
	id, err := randomID(s.rand)
	if err != nil {
		return nil, err
	}
	is.grantID = id
	// A grant lives as long as something issued under it can: the refresh
	// chain's absolute lifetime, or else its access token. Expired grants
	// are collected.
	life := s.accessTTL(is.client)
	if slices.Contains(is.client.GrantTypes, protocol.GrantRefreshToken) {
		life = max(life, s.cfg.RefreshTokenAbsoluteTTL)
	}
	g := &store.Grant{ID: id, ClientID: is.client.ID, Scopes: is.scopes, Resources: is.granted, AuthTime: is.authTime,
		AMR: is.amr, ACR: is.acr,
		Nonce: is.nonce, SessionID: is.sid, CreatedAt: now, ExpiresAt: now.Add(life)}
	if is.user != nil {
		g.UserID = is.user.ID
	}
	return g, nil
}

// newRefresh makes the first refresh token of a grant, when the client
// may refresh (RFC 9700 §4.14.2: a per-client decision).
func (s *Server) newRefresh(is issuance, now time.Time) (string, *store.RefreshToken, error) {
	if !slices.Contains(is.client.GrantTypes, protocol.GrantRefreshToken) {
		return "", nil, nil
	}
	value, digest, err := token.New(token.PrefixRefresh, s.rand)
	if err != nil {
		return "", nil, err
	}
	rec := &store.RefreshToken{
		Digest: digest, GrantID: is.grantID, ClientID: is.client.ID, Scopes: is.scopes, Resources: is.granted,
		JKT: refreshBinding(is), CreatedAt: now, ExpiresAt: now.Add(s.refreshTTL(is.client)),
	}
	if is.user != nil {
		rec.UserID = is.user.ID
	}
	return value, rec, nil
}

// refreshBinding is the DPoP key a refresh token is bound to: a public
// client's proves the key at every refresh (RFC 9449 §5, S164); a
// confidential client's stays bound to the client's own credentials.
func refreshBinding(is issuance) string {
	if is.client.Public {
		return is.jkt
	}
	return ""
}

// issueWithGrant starts a grant for is and stores it with its first
// tokens in one step.
func (s *Server) issueWithGrant(t tokenRequest, is issuance) (protocol.TokenResponse, error) {
	now := s.now()
	m, iss, err := s.grantTokens(t, &is, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	if err := s.st.SaveIssue(t.r.Context(), iss); err != nil {
		return protocol.TokenResponse{}, fmt.Errorf("store grant: %w", err)
	}
	return s.respond(t.context(), is, m.access, m.refresh, now)
}

// minted are the token values of one response, before it is assembled.
type minted struct{ access, refresh string }

// grantTokens makes what a new grant for is issues: the grant record, its
// access token, and its first refresh token when the grant starts a
// refresh chain and the client may refresh. The caller stores them. A
// grant registered as acting for a user must issue for one, and one that
// is not must not: the registry is what the rest of the server trusts.
func (s *Server) grantTokens(t tokenRequest, is *issuance, now time.Time) (minted, store.Issue, error) {
	if t.grant.User != (is.user != nil) { // the registry entry and the grant's code disagree
		return minted{}, store.Issue{}, fmt.Errorf("grant %s is registered with User=%v but issued with a user: %v",
			t.grant.Type, t.grant.User, is.user != nil)
	}
	g, err := s.newGrant(is, now)
	if err != nil {
		return minted{}, store.Issue{}, err
	}
	access, accessRec, err := s.mintAccess(t.context(), *is, now)
	if err != nil {
		return minted{}, store.Issue{}, err
	}
	var refresh string
	var refreshRec *store.RefreshToken
	if t.grant.Refresh {
		if refresh, refreshRec, err = s.newRefresh(*is, now); err != nil {
			return minted{}, store.Issue{}, err
		}
	}
	return minted{access, refresh}, store.Issue{Grant: g, Refresh: refreshRec, Access: accessRec}, nil
}

// respond assembles the token response for is (RFC 6749 §5.1, S029).
func (s *Server) respond(ctx context.Context, is issuance, access, refresh string, now time.Time) (protocol.TokenResponse, error) {
	idt, err := s.mintID(ctx, is, access, now)
	if err != nil {
		return protocol.TokenResponse{}, err
	}
	tokenType := protocol.TokenTypeBearer
	if is.jkt != "" {
		tokenType = protocol.TokenTypeDPoP // S163
	}
	return protocol.TokenResponse{
		AccessToken:  access,
		TokenType:    tokenType,
		ExpiresIn:    int64(s.accessLife(is) / time.Second),
		RefreshToken: refresh,
		Scope:        protocol.JoinScope(is.scopes),
		IDToken:      idt,
	}, nil
}

// randomID is a 128-bit random identifier (grant ids, jti).
func randomID(rand io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// deriveKey derives a purpose-bound key from the system secret.
func deriveKey(secret []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, purpose, 32)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce, never 32
	}
	return k
}
