// Package dpop implements OAuth 2.0 Demonstrating Proof of Possession
// (DPoP, RFC 9449) for both sides of a request: a Prover signs the proof a
// client sends in the DPoP header, and a Verifier checks it at an
// authorization server or a resource server.
//
// A Verifier runs every check of RFC 9449 §4.3 (S161, S176): exactly one
// DPoP header; a compact JWS with one signature, typed dpop+jwt; an
// asymmetric algorithm of its allowlist (never none nor HMAC) that suits
// the key; a public key in the jwk header and no other way of naming a key
// (jku, x5u, x5c); no critical extension; the required claims jti, htm,
// htu and iat; htm equal to the method; htu equal to the endpoint's URL
// after NormalizeURL (RFC 3986 §6.2.2, §6.2.3), with query and fragment
// ignored; iat within a short window (S174); ath when an access token is
// presented; a nonce when the caller asks for one (S170, S171, S175); and,
// once all of these pass, a jti not seen before for the same URL.
//
// Binding a token to the proof's key (cnf.jkt, RFC 9449 §6) is the
// caller's last step: compare Proof.JKT with the thumbprint the token
// carries, or with the one recorded for a refresh token or a dpop_jkt.
//
// NonceSource makes stateless server nonces (RFC 9449 §8, §9) that any
// instance sharing the key accepts.
//
// The package uses only the standard library and go-jose.
package dpop
