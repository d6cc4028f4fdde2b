// Package bearer protects an HTTP API — a resource server — with the access
// tokens of an OAuth 2 authorization server such as Latchkey.
//
// A Validator accepts JWT access tokens (RFC 9068), checking them locally
// against the authorization server's published keys, which it discovers
// from the server's metadata (RFC 8414) and keeps fresh in the background;
// with Config.Introspection it also accepts opaque tokens, asking the
// server about them (RFC 7662) and caching the answers briefly.
//
// Validator.Middleware and Validator.RequireScope wrap handlers: a request
// gets through only with a valid token (and the scopes required), and the
// token's claims are in its context for ClaimsFrom. Everything else is
// answered as RFC 6750 §3 says: 401 with a WWW-Authenticate challenge for a
// missing or refused token, 403 insufficient_scope, 400 invalid_request for
// a token sent more than once. Validator.Validate checks a token outside
// HTTP.
//
// What a JWT must be to pass (RFC 9068 §4, RFC 8725):
//
//   - at most MaxTokenBytes long, a compact JWS with exactly one signature;
//   - typed at+jwt, so that ID tokens do not pass as access tokens;
//   - signed with an algorithm of Config.Algorithms (never none nor HMAC)
//     that suits the key, and by a key of the issuer's JWKS chosen by kid;
//     keys or key URLs in the token's header (jwk, jku, x5u) are refused,
//     never fetched, and so are critical header extensions;
//   - iss equal to Config.Issuer, aud containing Config.Audience, exp and
//     nbf respected and iat not in the future, give or take Config.Leeway;
//   - iss, sub, aud, exp, iat, jti and client_id all present.
//
// The package uses only the standard library, go-jose and x/sync.
package bearer
