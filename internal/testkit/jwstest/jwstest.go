// Package jwstest makes the JWTs that tests of JWT consumers send: signed
// with any go-jose key and any extra header members, or JWS-shaped strings
// that no signer would produce (alg none), for the attack cases of client
// assertions, DPoP proofs and access tokens.
package jwstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
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

// Key is a signing key of a test client and its public JWK, as a client
// registers it (jwks).
type Key struct {
	Alg     jose.SignatureAlgorithm
	Private crypto.Signer
	Public  jose.JSONWebKey
}

// NewKey generates a key for alg (ES256, RS256, PS256 or EdDSA) named kid.
func NewKey(t testing.TB, alg jose.SignatureAlgorithm, kid string) Key {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256, jose.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return KeyOf(alg, priv, kid)
}

// KeyOf is the Key of priv for alg, named kid.
func KeyOf(alg jose.SignatureAlgorithm, priv crypto.Signer, kid string) Key {
	return Key{Alg: alg, Private: priv, Public: jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Use: "sig"}}
}

// Sign signs claims with k under its alg and kid, plus the extra header
// members.
func (k Key) Sign(t testing.TB, header map[jose.HeaderKey]any, claims any) string {
	t.Helper()
	return Sign(t, k.Alg, k.Private, k.Public.KeyID, header, claims)
}

// JWKS is the JWK Set of the keys' public halves, as JSON.
func JWKS(t testing.TB, keys ...Key) string {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
