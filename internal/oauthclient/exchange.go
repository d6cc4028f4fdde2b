package oauthclient

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/protocol"
)

// Exchange is a token exchange request (RFC 8693 §2.1): the token the
// client holds for someone (the subject), optionally one that says who
// is acting, and what the client wants in return.
type Exchange struct {
	SubjectToken, SubjectTokenType string
	// ActorToken, with its type, names the party acting for the subject;
	// without it the server names the client itself (delegation).
	ActorToken, ActorTokenType string
	// RequestedTokenType is the token wanted (default: an access token).
	RequestedTokenType string
	// Audience names the targets logically (RFC 8693 §2.1); the client's
	// Resources (RFC 8707) are sent too.
	Audience []string
}

// TokenTypeURN turns a short token type name (access_token,
// refresh_token, id_token, jwt) into its RFC 8693 §3 URN; a URN is
// returned as it is, and "" stays "".
func TokenTypeURN(s string) (string, error) {
	switch s {
	case "", protocol.TokenTypeAccessToken, protocol.TokenTypeRefreshToken, protocol.TokenTypeIDToken, protocol.TokenTypeJWT:
		return s, nil
	case "access_token":
		return protocol.TokenTypeAccessToken, nil
	case "refresh_token":
		return protocol.TokenTypeRefreshToken, nil
	case "id_token":
		return protocol.TokenTypeIDToken, nil
	case "jwt":
		return protocol.TokenTypeJWT, nil
	}
	if strings.HasPrefix(s, "urn:") {
		return s, nil // a type this client does not know; the server decides
	}
	return "", fmt.Errorf("unknown token type %q: use access_token, refresh_token, id_token, jwt or a URN", s)
}

// TokenExchange runs the token exchange grant (RFC 8693): the server
// answers with issued_token_type, which Response.Token.Extra carries.
func (c *Client) TokenExchange(ctx context.Context, x Exchange) (Response, error) {
	if x.SubjectToken == "" {
		return Response{}, errors.New("token exchange needs a subject token")
	}
	if (x.ActorToken == "") != (x.ActorTokenType == "") {
		return Response{}, errors.New("an actor token and its type go together (RFC 8693 §2.1)")
	}
	subjectType := x.SubjectTokenType
	if subjectType == "" {
		subjectType = protocol.TokenTypeAccessToken
	}
	form := url.Values{
		"grant_type":         {protocol.GrantTokenExchange},
		"subject_token":      {x.SubjectToken},
		"subject_token_type": {subjectType},
	}
	if x.ActorToken != "" {
		form.Set("actor_token", x.ActorToken)
		form.Set("actor_token_type", x.ActorTokenType)
	}
	if x.RequestedTokenType != "" {
		form.Set("requested_token_type", x.RequestedTokenType)
	}
	for _, a := range x.Audience {
		form.Add("audience", a)
	}
	c.tracer.Step("the client trades a token it holds for someone for a new one (token exchange, RFC 8693)")
	return c.tokenRequest(ctx, c.withScope(form))
}

// JWTBearer runs the JWT bearer grant (RFC 7523 §2.1): the client presents
// a JWT another issuer gave its workload (a Kubernetes service account
// token, a CI provider's OIDC token) for an access token.
func (c *Client) JWTBearer(ctx context.Context, assertion string) (Response, error) {
	if assertion == "" {
		return Response{}, errors.New("the JWT bearer grant needs an assertion")
	}
	c.tracer.Step("the client presents a JWT from another issuer for an access token (JWT bearer grant, RFC 7523 §2.1)")
	return c.tokenRequest(ctx, c.withScope(url.Values{"grant_type": {protocol.GrantJWTBearer}, "assertion": {assertion}}))
}
