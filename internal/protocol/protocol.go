// Package protocol holds the OAuth 2 vocabulary that every endpoint shares:
// grant and response types, the RFC error codes with their one status
// mapping, the writers for JSON, errors and token responses, and the parsers
// of outside input (form bodies, Basic credentials, scopes, PKCE).
package protocol

// Grant types (RFC 6749 §4, §6).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantPassword          = "password"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
)

// GrantTypes lists the grant types Latchkey implements, in display order.
func GrantTypes() []string {
	return []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword}
}

// KnownGrantType reports whether g is a grant type Latchkey implements.
func KnownGrantType(g string) bool {
	switch g {
	case GrantAuthorizationCode, GrantPassword, GrantClientCredentials, GrantRefreshToken:
		return true
	}
	return false
}

// Token type hints (RFC 7009 §2.1, RFC 7662 §2.1).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// TokenTypeBearer is the token_type of every access token Latchkey issues.
const TokenTypeBearer = "Bearer"
