// Package jwstest makes the JWTs that tests of JWT consumers send: signed
// with any go-jose key and any extra header members, or JWS-shaped strings
// that no signer would produce (alg none), for the attack cases of client
// assertions, DPoP proofs and access tokens.
package jwstest

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Sign signs claims with key under alg (an HMAC secret included), naming
// kid when it is not empty, with the extra header members given.
func Sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, header map[jose.HeaderKey]any, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{}}
	for k, v := range header {
		opts.ExtraHeaders[k] = v
	}
	if kid != "" {
		opts.ExtraHeaders["kid"] = kid
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Unsigned joins any header and claims, as JSON in base64url, with sig:
// what no signer produces (alg none, a made-up signature).
func Unsigned(header, claims any, sig string) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return B64(h) + "." + B64(c) + "." + sig
}

// B64 is base64url without padding, as JOSE writes it.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
