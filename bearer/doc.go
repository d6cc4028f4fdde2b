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
// DPoP-bound tokens (RFC 9449) are accepted too, sent as "Authorization:
// DPoP <token>" with a proof in the DPoP header; Config.DPoP says how, and
// Validator.ValidateDPoP checks one outside HTTP. A token is bound when it
// carries cnf.jkt (in its claims, or at the top of an introspection
// answer; Claims.JKT). Besides everything above:
//
//   - the proof passes every check of RFC 9449 §4.3 (package dpop): one
//     DPoP header, typed dpop+jwt, an asymmetric algorithm of
//     Config.DPoP.Algorithms, a public jwk and a valid signature by it,
//     htm the request's method, htu the request's URL under
//     Config.PublicURL, iat within Config.DPoP.Window, ath the token's
//     hash, the nonce when Config.DPoP.Nonces asks for one, and a jti not
//     seen before (Config.DPoP.Replay);
//   - the proof's key thumbprint equals the token's cnf.jkt;
//   - a bound token sent as a bearer token is refused (RFC 9449 §7.2), and
//     so is an unbound one sent with the DPoP scheme.
//
// Refused proofs are answered 401 with a DPoP challenge: invalid_dpop_proof,
// or use_dpop_nonce with a fresh nonce in DPoP-Nonce. A request without
// credentials gets a challenge for each scheme (Bearer realm=…, and DPoP
// algs=…); with Config.DPoP.Require only DPoP is accepted.
//
// With Config.Resource, the resource server describes itself in Protected
// Resource Metadata (RFC 9728): Validator.MetadataHandler serves the
// document at Validator.MetadataPath (RFC 9728 §3.1's well-known URL,
// with the resource's path appended), naming Config.Issuer as the
// authorization server, Config.ScopesSupported, the header as the only way
// to send a token, and the DPoP algorithms. Every challenge then carries
// resource_metadata (RFC 9728 §5.1), so that a client that knows only the
// resource's URL, an MCP client for one, can find where to get a token.
// Resource is also the default Audience, as RFC 8707 resource indicators
// put it in aud, and its origin the default PublicURL.
//
// The package uses only the standard library, go-jose, x/sync and the
// project's public dpop package.
package bearer
