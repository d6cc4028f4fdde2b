package protocol

import (
	"errors"
	"net/http"
)

// AuthMethod is a client authentication method, named as the
// token_endpoint_auth_method of RFC 7591 §2 and the IANA registry.
type AuthMethod string

// The client authentication methods of RFC 6749 §2.3.1 and RFC 7591 §2.
const (
	// AuthBasic: the secret in HTTP Basic (RFC 6749 §2.3.1).
	AuthBasic AuthMethod = "client_secret_basic"
	// AuthPost: the secret in the form body as client_secret.
	AuthPost AuthMethod = "client_secret_post"
	// AuthNone: a public client that names itself with client_id only.
	AuthNone AuthMethod = "none"
	// AuthPrivateKeyJWT: a JWT signed with the client's private key
	// (RFC 7523 §2.2, OpenID Connect Core §9).
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
)

// AssertionTypeJWT is the client_assertion_type of a JWT client assertion
// (RFC 7523 §2.2).
const AssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// ParseAuthMethod reads a method as a person types it: its RFC 7591 name,
// or the short aliases "basic" and "post" of the CLI.
func ParseAuthMethod(s string) (AuthMethod, bool) {
	switch AuthMethod(s) {
	case AuthBasic, "basic":
		return AuthBasic, true
	case AuthPost, "post":
		return AuthPost, true
	case AuthNone:
		return AuthNone, true
	case AuthPrivateKeyJWT:
		return AuthPrivateKeyJWT, true
	}
	return "", false
}

// UsesSecret reports whether m sends a client secret.
func (m AuthMethod) UsesSecret() bool { return m == AuthBasic || m == AuthPost }

// Credentials are what one request presented to authenticate its client:
// a secret (Basic or the form), a client assertion (RFC 7521 §4.2), or
// only a client_id.
type Credentials struct {
	// ClientID is the client the request claims to be.
	ClientID string
	// Presented is how the credentials came: client_secret_basic,
	// client_secret_post, none, or "" for a client assertion, whose method
	// (private_key_jwt, …) only the client's registration says.
	Presented AuthMethod
	// Secret is the client secret of the two secret methods.
	Secret string
	// AssertionType and Assertion are client_assertion_type and
	// client_assertion.
	AssertionType, Assertion string
}

// HasAssertion reports whether a client assertion was presented.
func (c Credentials) HasAssertion() bool { return c.Assertion != "" }

// ParseCredentials extracts the client credentials of a request to the
// token, introspection or revocation endpoint. It refuses two methods at
// once (RFC 6749 §2.3, S002, S153), credentials in the URL (S004), a
// client_id that differs from the one authenticated, and a request that
// names no client at all.
func ParseCredentials(r *http.Request, form Form) (Credentials, *Error) {
	q := r.URL.Query()
	if q.Has("client_secret") || q.Has("client_assertion") {
		return Credentials{}, Errorf(ErrInvalidRequest, "client credentials must not be sent in the URL")
	}
	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return Credentials{}, Errorf(ErrInvalidRequest, "more than one Authorization header")
	}
	if form.Has("client_assertion") != form.Has("client_assertion_type") {
		return Credentials{}, Errorf(ErrInvalidRequest, "client_assertion and client_assertion_type go together")
	}
	assertion := form.Has("client_assertion")
	if assertion && form.Has("client_secret") {
		return Credentials{}, Errorf(ErrInvalidRequest, "use one client authentication method, not two")
	}
	if len(auth) == 1 {
		id, secret, err := ParseBasic(auth[0])
		switch {
		case errors.Is(err, ErrNoBasic):
			// Another scheme (Bearer, DPoP) is not client authentication.
		case err != nil:
			return Credentials{}, InvalidClient("malformed Basic credentials")
		case form.Has("client_secret") || assertion:
			return Credentials{}, Errorf(ErrInvalidRequest, "use one client authentication method, not two")
		case form.Has("client_id") && form.Get("client_id") != id:
			return Credentials{}, Errorf(ErrInvalidRequest, "client_id differs from the Basic credentials")
		default:
			return Credentials{ClientID: id, Presented: AuthBasic, Secret: secret}, nil
		}
	}
	id := form.Get("client_id")
	if assertion { // client_id is optional: the assertion's sub names the client (RFC 7521 §4.2)
		return Credentials{ClientID: id, AssertionType: form.Get("client_assertion_type"),
			Assertion: form.Get("client_assertion")}, nil
	}
	if id == "" {
		return Credentials{}, InvalidClient("client authentication is required")
	}
	switch {
	case form.Has("client_secret"):
		return Credentials{ClientID: id, Presented: AuthPost, Secret: form.Get("client_secret")}, nil
	}
	return Credentials{ClientID: id, Presented: AuthNone}, nil
}

// InvalidClient is the one invalid_client answer: 401 with a Basic
// challenge, whichever method the client tried. RFC 6749 §5.2 demands the
// challenge when Basic was used (S033), and RFC 9110 §15.5.2 on every 401.
func InvalidClient(desc string) *Error {
	return &Error{Code: ErrInvalidClient, Description: desc, Challenge: `Basic realm="latchkey"`}
}
