// Package protocol holds the OAuth 2 vocabulary that every endpoint shares:
// grant and response types, client authentication methods, the RFC error
// codes with their one status mapping, the writers for JSON, errors and
// token responses, and the parsers of outside input (form bodies, client
// credentials, scopes, PKCE).
package protocol

// Token type hints (RFC 7009 §2.1, RFC 7662 §2.1).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// TokenTypeBearer is the token_type of an access token anyone holding it may use.
const TokenTypeBearer = "Bearer"

// TokenTypeDPoP is the token_type of an access token bound to a DPoP key
// (RFC 9449 §5, S163).
const TokenTypeDPoP = "DPoP"
