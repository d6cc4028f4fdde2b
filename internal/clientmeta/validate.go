package clientmeta

import (
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/protocol"
)

// Limits on what one client may register: far beyond real clients, and
// they keep a stored registration small.
const (
	maxListLen = 20
	maxURILen  = 2000
	maxTextLen = 200
)

// Policy is what a server allows a self-registered client. Its zero value
// allows nothing: the caller names every grant, method, scope and redirect
// form it accepts.
type Policy struct {
	// Grants are the grant types a client may register, with what each
	// needs (public use, redirect URIs, refresh chains); typically the
	// server's registry filtered by configuration.
	Grants []protocol.GrantInfo
	// AuthMethods are the token_endpoint_auth_method values allowed.
	AuthMethods []protocol.AuthMethod
	// DefaultAuthMethod applies when the metadata names none; empty means
	// client_secret_basic (RFC 7591 §2, S197).
	DefaultAuthMethod protocol.AuthMethod
	// Scopes a client may ask for; DefaultScopes are registered when it
	// asks for none.
	Scopes        []string
	DefaultScopes []string
	// Redirects are the redirect URI forms allowed.
	Redirects RedirectRules
	// AllowLoopbackJWKSURI lets jwks_uri be http on a loopback host, for
	// tests that serve a key set locally; never in production (A25).
	AllowLoopbackJWKSURI bool
	// ClientID, when set, must be the metadata's client_id: the client's
	// id in an RFC 7592 update, the document's URL in a Client ID
	// Metadata Document. When empty, client_id is ignored (S202).
	ClientID string
}

// Validate checks m against p and returns it with the defaults of RFC 7591
// §2 applied (S197): what the server registers, and answers with.
func Validate(m Metadata, p Policy) (Metadata, error) {
	if p.ClientID != "" && m.ClientID != p.ClientID {
		return Metadata{}, invalid("client_id must be present and be '%s'", truncate(p.ClientID, 200))
	}
	steps := []func(*Metadata, Policy) error{
		checkAuthMethod, checkGrants, checkResponseTypes, checkRedirects,
		checkKeys, checkScope, checkText, checkInfoURIs,
	}
	for _, step := range steps {
		if err := step(&m, p); err != nil {
			return Metadata{}, err
		}
	}
	return m, nil
}

// checkAuthMethod applies the default method and the policy's list.
func checkAuthMethod(m *Metadata, p Policy) error {
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = string(protocol.AuthBasic)
		if p.DefaultAuthMethod != "" {
			m.TokenEndpointAuthMethod = string(p.DefaultAuthMethod)
		}
	}
	if !slices.Contains(p.AuthMethods, protocol.AuthMethod(m.TokenEndpointAuthMethod)) {
		return invalid("token_endpoint_auth_method '%s' is not allowed here; use %s",
			truncate(m.TokenEndpointAuthMethod, 40), joinMethods(p.AuthMethods))
	}
	return nil
}

// checkGrants applies the default grant and refuses what the policy does
// not allow, implicit, repeats, and confidential-only grants for a public
// client (S203).
func checkGrants(m *Metadata, p Policy) error {
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{protocol.GrantAuthorizationCode}
	}
	if len(m.GrantTypes) > maxListLen {
		return invalid("grant_types lists more than %d values", maxListLen)
	}
	public := m.TokenEndpointAuthMethod == string(protocol.AuthNone)
	seen := make(map[string]bool)
	starts := false
	for _, g := range m.GrantTypes {
		info, ok := grantInfo(p.Grants, g)
		switch {
		case g == "implicit":
			return invalid("grant type implicit is not supported (OAuth 2.1 removes it); use authorization_code with PKCE")
		case !ok:
			return invalid("grant type '%s' is not allowed here; use %s", truncate(g, 80), joinGrants(p.Grants))
		case seen[g]:
			return invalid("grant type '%s' is listed twice", g)
		case public && !info.Public:
			return invalid("a public client (token_endpoint_auth_method none) cannot use %s (S203); register a confidential client", g)
		}
		seen[g] = true
		starts = starts || info.Refresh
	}
	if seen[protocol.GrantRefreshToken] && !starts {
		return invalid("refresh_token needs a grant that issues refresh tokens, such as authorization_code")
	}
	return nil
}

// checkResponseTypes keeps response_types consistent with grant_types
// (RFC 7591 §2.1): code exactly when authorization_code is registered.
func checkResponseTypes(m *Metadata, _ Policy) error {
	code := slices.Contains(m.GrantTypes, protocol.GrantAuthorizationCode)
	if len(m.ResponseTypes) == 0 {
		if code {
			m.ResponseTypes = []string{"code"}
		}
		return nil
	}
	for _, rt := range m.ResponseTypes {
		if rt != "code" {
			return invalid("response type '%s' is not supported; only code (the implicit flow is removed)", truncate(rt, 40))
		}
	}
	if len(m.ResponseTypes) > 1 {
		return invalid("response_types lists code more than once")
	}
	if !code {
		return invalid("response type code needs grant type authorization_code (RFC 7591 section 2.1)")
	}
	return nil
}

// checkRedirects requires redirect URIs for the front-channel grants and
// checks each one (S198).
func checkRedirects(m *Metadata, p Policy) error {
	needs := slices.ContainsFunc(m.GrantTypes, func(g string) bool {
		info, _ := grantInfo(p.Grants, g)
		return info.Redirect
	})
	if needs && len(m.RedirectURIs) == 0 {
		return badRedirect("redirect_uris is required for the authorization_code grant")
	}
	if len(m.RedirectURIs) > maxListLen {
		return badRedirect("redirect_uris lists more than %d URIs", maxListLen)
	}
	for i, u := range m.RedirectURIs {
		if err := p.Redirects.check(u); err != nil {
			return err
		}
		if slices.Contains(m.RedirectURIs[:i], u) {
			return badRedirect("redirect URI '%s' is listed twice", truncate(u, 200))
		}
	}
	return nil
}

// checkKeys checks the client's keys: jwks xor jwks_uri (RFC 7591 §2),
// jwks_uri https and never at a refused address (A25), an inline set of
// public keys only, and keys exactly when private_key_jwt needs them.
func checkKeys(m *Metadata, p Policy) error {
	hasSet, hasURI := len(m.JWKS) > 0, m.JWKSURI != ""
	if hasSet && hasURI {
		return invalid("jwks and jwks_uri must not both be present (RFC 7591 section 2); send one")
	}
	if hasURI {
		if err := checkJWKSURI(m.JWKSURI, p.AllowLoopbackJWKSURI); err != nil {
			return err
		}
	}
	if hasSet {
		if err := clientjwt.CheckKeySet(m.JWKS); err != nil {
			return invalid("jwks is not a usable JWK Set of public keys: %v", err)
		}
	}
	keyed := m.TokenEndpointAuthMethod == string(protocol.AuthPrivateKeyJWT)
	if keyed && !hasSet && !hasURI {
		return invalid("private_key_jwt needs the client's public keys in jwks or jwks_uri")
	}
	return nil
}

// checkScope applies the default scopes and keeps every scope within the
// policy.
func checkScope(m *Metadata, p Policy) error {
	if len(m.Scope) > maxURILen {
		return invalid("scope is longer than %d characters", maxURILen)
	}
	if strings.TrimSpace(m.Scope) == "" {
		m.Scope = strings.Join(p.DefaultScopes, " ")
		return nil
	}
	scopes, ok := protocol.ParseScope(m.Scope)
	if !ok {
		return invalid("scope holds a character RFC 6749 section 3.3 does not allow")
	}
	for _, s := range scopes {
		if !slices.Contains(p.Scopes, s) {
			return invalid("scope '%s' is not allowed here; ask for some of: %s", truncate(s, 80), strings.Join(p.Scopes, " "))
		}
	}
	m.Scope = strings.Join(scopes, " ")
	return nil
}

// checkText bounds the free text a client asserts about itself.
func checkText(m *Metadata, _ Policy) error {
	for name, v := range map[string]string{"client_name": m.ClientName, "software_id": m.SoftwareID, "software_version": m.SoftwareVersion} {
		if len([]rune(v)) > maxTextLen {
			return invalid("%s is longer than %d characters", name, maxTextLen)
		}
		if strings.ContainsFunc(v, isControl) {
			return invalid("%s contains a control character", name)
		}
	}
	if len(m.Contacts) > maxListLen {
		return invalid("contacts lists more than %d addresses", maxListLen)
	}
	for _, c := range m.Contacts {
		if len(c) > maxTextLen || c == "" || strings.ContainsFunc(c, isControl) {
			return invalid("contacts holds an empty, overlong or unprintable entry")
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func grantInfo(grants []protocol.GrantInfo, typ string) (protocol.GrantInfo, bool) {
	for _, g := range grants {
		if g.Type == typ {
			return g, true
		}
	}
	return protocol.GrantInfo{}, false
}

func joinGrants(grants []protocol.GrantInfo) string {
	names := make([]string, len(grants))
	for i, g := range grants {
		names[i] = g.Type
	}
	return strings.Join(names, ", ")
}

func joinMethods(methods []protocol.AuthMethod) string {
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}
