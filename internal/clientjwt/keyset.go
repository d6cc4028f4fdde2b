package clientjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// Limits on a client's JWK Set.
const (
	maxSetKeys    = 32
	maxKIDBytes   = 256
	minRSABits    = 2048 // RFC 7518 §3.3
	maxCandidates = 4    // keys tried for one assertion without a kid
)

// keySet is a parsed, validated JWK Set: public asymmetric signing keys only.
type keySet struct {
	keys []jose.JSONWebKey
}

// CheckKeySet says why data is not a JWK Set that Verify would use, or
// returns nil: the rules of registration, for configuration validation and
// the CLI, are the ones applied to every assertion.
func CheckKeySet(data []byte) error {
	set, err := parseKeySet(data)
	if err != nil {
		return err
	}
	if len(set.keys) == 0 {
		return fmt.Errorf("no keys of a supported type (EC P-256/384/521, RSA, Ed25519)")
	}
	return nil
}

// parseKeySet reads a JWK Set (RFC 7517 §5). It refuses the whole set if
// any key is private or symmetric (a client that publishes its private
// key has lost it; an "oct" key has no place in private_key_jwt), and
// skips keys of a type or curve that no accepted algorithm uses (RFC
// 7517 §5: ignore what is not understood).
func parseKeySet(data []byte) (*keySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if raw.Keys == nil {
		return nil, fmt.Errorf("not a JWK Set: no keys member")
	}
	if len(raw.Keys) > maxSetKeys {
		return nil, fmt.Errorf("more than %d keys", maxSetKeys)
	}
	set := &keySet{}
	for i, rk := range raw.Keys {
		key, use, err := parseKey(rk)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if use {
			set.keys = append(set.keys, key)
		}
	}
	return set, nil
}

// parseKey reads one JWK; use is false for a key to skip.
func parseKey(rk json.RawMessage) (key jose.JSONWebKey, use bool, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rk, &m); err != nil {
		return key, false, fmt.Errorf("not a JSON object")
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := m[private]; ok {
			return key, false, fmt.Errorf("private or symmetric key material (%q)", private)
		}
	}
	var kty, crv string
	json.Unmarshal(m["kty"], &kty)
	json.Unmarshal(m["crv"], &crv)
	switch {
	case kty == "oct":
		return key, false, fmt.Errorf("a symmetric key")
	case kty == "RSA", kty == "EC" && slices.Contains([]string{"P-256", "P-384", "P-521"}, crv),
		kty == "OKP" && crv == "Ed25519":
	default:
		return key, false, nil
	}
	if err := key.UnmarshalJSON(rk); err != nil {
		return key, false, err
	}
	if !key.Valid() || !key.IsPublic() {
		return key, false, fmt.Errorf("not a valid public key")
	}
	if len(key.KeyID) > maxKIDBytes {
		return key, false, fmt.Errorf("kid longer than %d bytes", maxKIDBytes)
	}
	if pub, ok := key.Key.(*rsa.PublicKey); ok && pub.N.BitLen() < minRSABits {
		return key, false, fmt.Errorf("RSA key of %d bits (at least %d)", pub.N.BitLen(), minRSABits)
	}
	return key, true, nil
}

// match returns the keys of s that may verify a JWS with alg and kid:
// the kid's keys, or without a kid every key, in both cases only those
// that suit alg. named is how many signing keys have the kid (0
// without one).
func (s *keySet) match(kid string, alg jose.SignatureAlgorithm) (found []jose.JSONWebKey, named int) {
	for _, k := range s.keys {
		if k.Use != "" && k.Use != "sig" || kid != "" && k.KeyID != kid {
			continue
		}
		if kid != "" {
			named++
		}
		if suits(k, alg) {
			found = append(found, k)
		}
	}
	return found, named
}

// suits reports whether alg may be verified with k: the key names alg
// or no algorithm, and alg belongs to its type and
// curve. The algorithm is thus tied to the key, never taken from the
// header alone (A13, RFC 8725 §3.1).
func suits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return slices.Contains([]jose.SignatureAlgorithm{
			jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512}, alg)
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return alg == jose.ES256
		case elliptic.P384():
			return alg == jose.ES384
		case elliptic.P521():
			return alg == jose.ES512
		}
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// Asymmetric reports whether alg is an asymmetric signature algorithm
// Verify and trustjwt may accept: never none nor HMAC (A13).
func Asymmetric(alg jose.SignatureAlgorithm) bool {
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA:
		return true
	}
	return false
}
