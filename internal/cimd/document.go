package cimd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/clientjwt"
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
}

// Limits on what a document may list.
const (
	maxRedirectURIs = 16
	maxURILen       = 2048
	maxNameLen      = 200
)

// document is the part of RFC 7591 client metadata this server reads;
// unknown members are ignored (RFC 7591 §3.1, S199).
type document struct {
	ClientID                string          `json:"client_id"`
	ClientName              string          `json:"client_name"`
	RedirectURIs            []string        `json:"redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	Scope                   string          `json:"scope"`
	JWKSURI                 string          `json:"jwks_uri"`
	JWKS                    json.RawMessage `json:"jwks"`
	ClientSecret            *string         `json:"client_secret"`
	ClientSecretExpiresAt   json.RawMessage `json:"client_secret_expires_at"`
}

// CheckContentType accepts application/json or a more specific
// application/…+json media type (the draft, §4.1), parameters aside.
func CheckContentType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return fmt.Errorf("%w: content type %q is not application/json", ErrInvalidDocument, ct)
}

// ParseDocument validates body as the metadata document found at
// clientID and returns the client it describes, with Source set. The
// errors wrap ErrInvalidDocument and say what to fix.
func ParseDocument(clientID string, body []byte, p Policy) (store.Client, error) {
	var d document
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&d); err != nil {
		return store.Client{}, invalid("not a JSON object of client metadata: %v", err)
	}
	if dec.More() || bytes.TrimSpace(body)[0] != '{' {
		return store.Client{}, invalid("not a single JSON object")
	}
	if d.ClientID != clientID { // simple string comparison (RFC 3986 §6.2.1)
		return store.Client{}, invalid("its client_id %q is not the URL it was fetched from", shorten(d.ClientID))
	}
	c := store.Client{ID: clientID, Source: Source, Name: strings.TrimSpace(d.ClientName), Resources: slices.Clone(p.Resources)}
	if c.Name == "" { // the consent page shows something the user can check
		if u, err := url.Parse(clientID); err == nil {
			c.Name = u.Host
		}
	}
	if len(c.Name) > maxNameLen {
		return store.Client{}, invalid("client_name is longer than %d bytes", maxNameLen)
	}
	steps := []func(*document, *store.Client) error{authMethod, grantTypes, redirectURIs, func(d *document, c *store.Client) error {
		return scopes(d, c, p.Scopes)
	}}
	for _, step := range steps {
		if err := step(&d, &c); err != nil {
			return store.Client{}, err
		}
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidDocument, fmt.Sprintf(format, args...))
}

// authMethod allows none and private_key_jwt: no secret can be shared
// with a client that was never registered (the draft, §4.1). Without a
// method the client is public: RFC 7591's default, client_secret_basic,
// cannot apply.
func authMethod(d *document, c *store.Client) error {
	if d.ClientSecret != nil || len(d.ClientSecretExpiresAt) > 0 {
		return invalid("a metadata document must not carry client_secret")
	}
	switch m := d.TokenEndpointAuthMethod; m {
	case "", string(protocol.AuthNone):
		c.Public, c.TokenEndpointAuthMethod = true, string(protocol.AuthNone)
		return nil
	case string(protocol.AuthPrivateKeyJWT):
		c.TokenEndpointAuthMethod = m
	default:
		return invalid("token_endpoint_auth_method %q is not allowed: use none or private_key_jwt (no shared secrets)", shorten(m))
	}
	hasJWKS := len(d.JWKS) > 0 && string(d.JWKS) != "null"
	switch {
	case hasJWKS && d.JWKSURI != "":
		return invalid("jwks and jwks_uri must not both appear (RFC 7591 §2)")
	case hasJWKS:
		if err := clientjwt.CheckKeySet(d.JWKS); err != nil {
			return invalid("jwks: %v", err)
		}
		c.JWKS = string(d.JWKS)
	case d.JWKSURI != "":
		u, err := url.Parse(d.JWKSURI)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || len(d.JWKSURI) > maxURILen {
			return invalid("jwks_uri must be an absolute https URL without user name or fragment")
		}
		c.JWKSURI = d.JWKSURI
	default:
		return invalid("private_key_jwt needs jwks_uri or jwks")
	}
	return nil
}

// redirectURIs requires at least one for the code grant, each https, http on a loopback
// address (RFC 8252 §7.3), or a private-use scheme in reverse-DNS form
// (RFC 8252 §7.1); never a fragment or a wildcard (S198).
func redirectURIs(d *document, c *store.Client) error {
	if len(d.RedirectURIs) == 0 && slices.Contains(c.GrantTypes, protocol.GrantAuthorizationCode) {
		return invalid("redirect_uris is required for the authorization_code grant")
	}
	if len(d.RedirectURIs) > maxRedirectURIs {
		return invalid("more than %d redirect_uris", maxRedirectURIs)
	}
	for _, r := range d.RedirectURIs {
		if msg := redirectProblem(r); msg != "" {
			return invalid("redirect_uri %q %s", shorten(r), msg)
		}
	}
	if len(d.RedirectURIs) > 0 {
		c.RedirectURIs = slices.Clone(d.RedirectURIs)
	}
	return nil
}

func redirectProblem(r string) string {
	u, err := url.Parse(r)
	switch {
	case err != nil || u.Scheme == "" || len(r) > maxURILen:
		return "is not an absolute URI"
	case strings.Contains(r, "#"):
		return "must not contain a fragment"
	case strings.Contains(r, "*"):
		return "must not contain a wildcard"
	case u.User != nil:
		return "must not contain a user name or password"
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return "has no host"
		}
		return ""
	case "http":
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() || strings.EqualFold(u.Hostname(), "localhost") {
			return ""
		}
		return "must use https (http only on a loopback address)"
	case "javascript", "data", "file", "vbscript":
		return "uses a forbidden scheme"
	}
	if !strings.Contains(u.Scheme, ".") {
		return "uses a private scheme not in reverse-DNS form (com.example.app:/callback)"
	}
	return ""
}

// grantTypes allows the grants of a user-facing client; the default is
// authorization_code (RFC 7591 §2, S197). A self-asserted client gets no
// grant that issues tokens without a user (client_credentials, password,
// token exchange, JWT bearer).
func grantTypes(d *document, c *store.Client) error {
	allowed := []string{protocol.GrantAuthorizationCode, protocol.GrantRefreshToken, protocol.GrantDeviceCode}
	gts := d.GrantTypes
	if len(gts) == 0 {
		gts = []string{protocol.GrantAuthorizationCode}
	}
	for _, g := range gts {
		if !slices.Contains(allowed, g) {
			return invalid("grant type %q is not available to clients identified by a metadata document", shorten(g))
		}
	}
	for _, rt := range d.ResponseTypes {
		if rt != "code" {
			return invalid("response type %q is not supported: only code", shorten(rt))
		}
	}
	c.GrantTypes = slices.Compact(slices.Sorted(slices.Values(gts)))
	return nil
}

// scopes narrows the policy's scopes to the document's scope, when it has
// one; scopes the policy lacks are dropped (RFC 7591 §2: the server may
// replace requested values).
func scopes(d *document, c *store.Client, allowed []string) error {
	asked, ok := protocol.ParseScope(d.Scope)
	if !ok {
		return invalid("scope is malformed")
	}
	if len(asked) == 0 {
		c.Scopes = slices.Clone(allowed)
		return nil
	}
	for _, s := range asked {
		if slices.Contains(allowed, s) && !slices.Contains(c.Scopes, s) {
			c.Scopes = append(c.Scopes, s)
		}
	}
	return nil
}

// shorten keeps what a document said short enough for an error message.
func shorten(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return protocol.SafeDescription(s)
}
