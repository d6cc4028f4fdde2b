// Package trustjwt verifies JWTs that another issuer signed for a
// workload: a Kubernetes service account token, a CI provider's OIDC
// token. The server trusts such an issuer by configuration and accepts
// its tokens as authorization grants (RFC 7523 §2.1) and in token
// exchange (RFC 8693).
//
// The key sets, their fetching through the SSRF guard, their caching and
// their refresh on an unknown kid (rate limited) are clientjwt.Keys'; the
// header rules are clientjwt.ParseJWS'. What Verify accepts:
//
//   - a compact JWS with one signature, at most clientjwt.MaxAssertionBytes,
//     whose header brings no key (jwk, jku, x5u, x5c: A14) and whose typ is
//     absent or JWT;
//   - an algorithm of the issuer's allowlist, asymmetric only: none and
//     HMAC are refused before any key is looked up, so a public key can
//     never serve as an HMAC secret (A13, RFC 8725 §3.1);
//   - a key of the issuer's set chosen by kid, of a type that suits the alg;
//   - iss exactly the issuer; aud containing the configured audience;
//   - exp present and not past, nbf not in the future, iat present, not in
//     the future and at most MaxTokenAge old, and exp − iat at most
//     MaxTokenAge (with a small clock skew);
//   - the subject claim a non-empty string without control characters;
//   - unless the issuer allows reuse, a jti never seen before from this
//     issuer, remembered until exp.
package trustjwt
