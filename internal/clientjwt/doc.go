// Package clientjwt verifies the client assertions of private_key_jwt
// client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9):
// a JWT the client signs with a private key whose public half it
// registered, inline (jwks) or at a URL (jwks_uri).
//
// The package is independent of the server. The server
//
//  1. finds the client: client_id from the request, or, when the request
//     omits it (RFC 7521 §4.2), UnsafeSubject(client_assertion);
//  2. checks that client_assertion_type is
//     urn:ietf:params:oauth:client-assertion-type:jwt-bearer (the
//     AssertionType constant) and that the client is registered for
//     private_key_jwt;
//  3. calls Verifier.Verify with the client's registration; a nil error
//     authenticates the client, an *Error is answered invalid_client with
//     Error.Description (written here, safe to show: it never repeats what
//     the request sent), and any other error is the server's own failure
//     (server_error).
//
// What Verify accepts, and why (the STANDARDS.md lines are cited):
//
//   - a compact JWS with one signature, at most MaxAssertionBytes;
//   - an algorithm of Verifier.Algs, narrowed by the client's own list,
//     that suits the key's type and curve: never none nor HMAC (A13);
//   - a key of the client's registration, chosen by kid; no key carried
//     or pointed to by the header (jwk, jku, x5u, x5c: A14), no crit;
//   - typ absent, JWT or client-authentication+jwt (S213);
//   - iss = sub = client_id, exp present and at most MaxLifetime ahead,
//     nbf and iat not in the future, iat not older than MaxLifetime, a
//     jti used once until exp (S214);
//   - aud: see Verifier.Strict (decision 3, S179, S212, S215).
package clientjwt

// AssertionType is the client_assertion_type of a JWT client assertion
// (RFC 7523 §2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
