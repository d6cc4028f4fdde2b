package bearer

import (
	"context"
	"slices"
	"strings"
	"time"
)

// ClientSubjectPrefix starts the sub of a token that a client obtained for
// itself (client credentials) from Latchkey: "client:<client_id>". User
// subjects never contain a colon (RFC 9068 §2.2, RFC 9700 §4.15).
const ClientSubjectPrefix = "client:"

// Claims are the verified claims of an access token (RFC 9068 §2.2), or
// what introspection said of an opaque one (RFC 7662 §2.2). A Validator
// may hand the same Claims to several requests: treat them as read-only.
type Claims struct {
	// Issuer is iss: the authorization server.
	Issuer string
	// Subject is sub: the user, "client:<client_id>" for a token a
	// client obtained for itself, or "<issuer name>:<subject>" for a
	// workload whose token from a trusted issuer a client traded (the
	// JWT bearer grant): only a user's has no colon.
	Subject string
	// Audience is aud: the resource servers the token is meant for.
	Audience []string
	// Expiry is exp; IssuedAt is iat.
	Expiry   time.Time
	IssuedAt time.Time
	// JTI is the token's unique identifier.
	JTI string
	// ClientID is the client the token was issued to.
	ClientID string
	// JKT is cnf.jkt: the RFC 7638 thumbprint of the DPoP key the token is
	// bound to (RFC 9449 §6), or "" for a bearer token. A token with a JKT
	// passed only with a proof signed by that key.
	JKT string
	// Scopes are the granted scopes, from the space-delimited scope claim
	// (RFC 9068 §2.2.3).
	Scopes []string
	// Actor is the act claim of a token issued by token exchange (RFC
	// 8693 §4.1): who acts for Subject, with the earlier actors nested;
	// nil when the token was not delegated.
	Actor *Actor
	// Raw holds every claim of the token (or every member of the
	// introspection response) as decoded from JSON: numbers are float64.
	// Look here for auth_time and other claims without a field.
	Raw map[string]any
}

// HasScope reports whether the token was granted scope s (scopes are
// case-sensitive, RFC 6749 §3.3).
func (c *Claims) HasScope(s string) bool {
	return slices.Contains(c.Scopes, s)
}

// IsClient reports whether the token was obtained by a client for itself
// (client credentials) rather than on behalf of a user: its sub is
// "client:" followed by its client_id (RFC 9068 §2.2, §5).
func (c *Claims) IsClient() bool {
	return strings.HasPrefix(c.Subject, ClientSubjectPrefix) && c.Subject[len(ClientSubjectPrefix):] == c.ClientID
}

// confirmationJKT reads cnf.jkt (RFC 9449 §6.1, §6.2): "" without a cnf
// claim or a jkt member in it, false when either is malformed.
func confirmationJKT(m map[string]any) (string, bool) {
	raw, present := m["cnf"]
	if !present {
		return "", true
	}
	cnf, ok := raw.(map[string]any)
	if !ok {
		return "", false
	}
	raw, present = cnf["jkt"]
	if !present {
		return "", true
	}
	jkt, ok := raw.(string)
	return jkt, ok && jkt != ""
}

// contextKey is the key of the verified claims in a request's context.
type contextKey struct{}

// fromContext is what the middleware stores: the claims and the Validator
// that verified them.
type fromContext struct {
	v      *Validator
	claims *Claims
}

// ClaimsFrom returns the claims that the middleware verified and put in
// the request's context.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	fc, ok := ctx.Value(contextKey{}).(*fromContext)
	if !ok {
		return nil, false
	}
	return fc.claims, true
}

func withClaims(ctx context.Context, v *Validator, c *Claims) context.Context {
	return context.WithValue(ctx, contextKey{}, &fromContext{v: v, claims: c})
}

// ACR is the token's acr claim (RFC 9068 §2.2.1): the authentication
// context class the user's sign-in reached, such as
// urn:latchkey:acr:mfa, or "" when the token has none.
func (c *Claims) ACR() string {
	s, _ := c.Raw["acr"].(string)
	return s
}

// AMR is the token's amr claim (RFC 9068 §2.2.1, RFC 8176): how the user
// signed in ("pwd", "otp", "mfa"), or nil.
func (c *Claims) AMR() []string {
	list, _ := c.Raw["amr"].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
