package cimd

import (
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/clientmeta"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// Policy is what this server grants any client resolved from a metadata
// document: the metadata is self-asserted (RFC 7591 §5), so it may narrow
// these bounds but never widen them.
type Policy struct {
	// Scopes are the most a client may be granted; a document's scope
	// narrows them.
	Scopes []string
	// Resources are the resource indicators (RFC 8707) clients may ask
	// tokens for: the MCP servers and APIs this server protects.
	Resources []string
	// AllowLoopbackJWKS lets a document's jwks_uri be on loopback, for
	// development and tests only.
	AllowLoopbackJWKS bool
}

// documentGrants are the grants a client identified by a document may
// list: those of a user-facing client. A self-asserted client gets no
// grant that issues tokens without a user (client_credentials, password,
// token exchange, JWT bearer).
func documentGrants() []protocol.GrantInfo {
	return []protocol.GrantInfo{
		{Type: protocol.GrantAuthorizationCode, Public: true, User: true, Refresh: true, Redirect: true},
		{Type: protocol.GrantRefreshToken, Public: true, User: true},
		{Type: protocol.GrantDeviceCode, Public: true, User: true, Refresh: true},
	}
}

// CheckContentType accepts application/json or a more specific
// application/…+json media type (the draft, §4.1), parameters aside.
func CheckContentType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return fmt.Errorf("%w: content type %q is not application/json", ErrInvalidDocument, shorten(ct))
}

// ParseDocument validates body as the metadata document found at
// clientID, with the rules of registration (clientmeta: redirect URIs,
// grants, keys, S197-S199, S203) and the draft's own (§4.1): the
// document names itself, and authenticates with none or private_key_jwt,
// never a shared secret; without a method the client is public. It
// returns the client it describes, with Source set. The errors wrap
// ErrInvalidDocument and say what to fix.
func ParseDocument(clientID string, body []byte, p Policy) (store.Client, error) {
	m, err := clientmeta.Parse(body)
	if err != nil {
		return store.Client{}, invalidFrom(err)
	}
	if m.ClientSecret != "" {
		return store.Client{}, invalid("a metadata document must not carry client_secret")
	}
	if m.ClientID != clientID { // simple string comparison (RFC 3986 §6.2.1)
		return store.Client{}, invalid("its client_id %q is not the URL it was fetched from", shorten(m.ClientID))
	}
	if method := protocol.AuthMethod(m.TokenEndpointAuthMethod); method.UsesSecret() || method == "client_secret_jwt" {
		return store.Client{}, invalid("token_endpoint_auth_method %q is not allowed: use none or private_key_jwt (no shared secrets)", method)
	}
	// A document is published once for every server: scopes this one
	// does not grant are dropped, not refused (RFC 7591 §2 lets the server
	// replace requested values).
	asked, ok := protocol.ParseScope(m.Scope)
	if !ok {
		return store.Client{}, invalid("scope holds a character RFC 6749 §3.3 does not allow")
	}
	kept := slices.DeleteFunc(slices.Clone(asked), func(s string) bool { return !slices.Contains(p.Scopes, s) })
	m.Scope = strings.Join(kept, " ")
	v, err := clientmeta.Validate(m, clientmeta.Policy{
		Grants:      documentGrants(),
		AuthMethods: []protocol.AuthMethod{protocol.AuthNone, protocol.AuthPrivateKeyJWT}, DefaultAuthMethod: protocol.AuthNone,
		Scopes: p.Scopes, DefaultScopes: p.Scopes, Redirects: clientmeta.AnyRedirect(),
		AllowLoopbackJWKSURI: p.AllowLoopbackJWKS, ClientID: clientID,
	})
	if err != nil {
		return store.Client{}, invalidFrom(err)
	}
	c := v.Client(clientID)
	c.Source, c.Resources = Source, slices.Clone(p.Resources)
	if len(asked) > 0 && len(kept) == 0 {
		c.Scopes = nil // it asked only for scopes this server does not grant
	}
	if c.Name == "" { // the pages show something the user can check
		if u, err := url.Parse(clientID); err == nil {
			c.Name = u.Host
		}
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidDocument, fmt.Sprintf(format, args...))
}

// invalidFrom turns clientmeta's protocol error into ErrInvalidDocument.
func invalidFrom(err error) error {
	if pe := protocol.AsError(err); pe != nil {
		return invalid("%s", pe.Description)
	}
	return invalid("%v", err)
}

// shorten keeps what a document said short enough for an error message.
func shorten(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return protocol.SafeDescription(s)
}
