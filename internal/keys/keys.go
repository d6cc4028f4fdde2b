// Package keys owns the signing-key lifecycle: keys are generated on first
// start, stored with their private part encrypted under the system secret,
// published in the JWKS as soon as they exist, used for signing only after an
// activation delay, and kept published until every token they signed has
// expired (OpenID Connect Core §10.1.1, S237).
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/store"
)

// Algorithms Latchkey signs with. Every one always has a key, so any client
// may pick any of them for its ID tokens.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
	// PS256 is RSA-PSS, which FAPI 2.0 accepts where it refuses RS256. It
	// has an RSA key of its own: one key never signs under two schemes.
	PS256 = "PS256"
)

// Algorithms returns the signing algorithms, RS256 first (OIDC's default).
func Algorithms() []string { return []string{RS256, ES256, EdDSA, PS256} }

// SupportedAlg reports whether alg is one Latchkey signs with.
func SupportedAlg(alg string) bool {
	return alg == RS256 || alg == ES256 || alg == EdDSA || alg == PS256
}

// rsaBits is the RSA modulus size: 2048 is the floor clients enforce and
// keeps RS256 signing near a millisecond.
const rsaBits = 2048

// generate makes a new key of alg, returning the store record with the
// private key sealed by s.
func generate(alg string, rand io.Reader, s *Sealer, now, activeAt time.Time) (store.Key, error) {
	priv, pub, err := newKeyPair(alg, rand)
	if err != nil {
		return store.Key{}, err
	}
	jwk := jose.JSONWebKey{Key: pub, Algorithm: alg, Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return store.Key{}, fmt.Errorf("keys: thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	public, err := jwk.MarshalJSON()
	if err != nil {
		return store.Key{}, fmt.Errorf("keys: marshal public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.Key{}, fmt.Errorf("keys: marshal private key: %w", err)
	}
	sealed, err := s.Seal(der, jwk.KeyID)
	if err != nil {
		return store.Key{}, err
	}
	return store.Key{KID: jwk.KeyID, Alg: alg, Private: sealed, Public: public, CreatedAt: now, ActiveAt: activeAt}, nil
}

func newKeyPair(alg string, rand io.Reader) (crypto.Signer, crypto.PublicKey, error) {
	switch alg {
	case RS256, PS256:
		k, err := rsa.GenerateKey(rand, rsaBits)
		if err != nil {
			return nil, nil, fmt.Errorf("keys: generate RSA key: %w", err)
		}
		return k, k.Public(), nil
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand)
		if err != nil {
			return nil, nil, fmt.Errorf("keys: generate P-256 key: %w", err)
		}
		return k, k.Public(), nil
	case EdDSA:
		pub, priv, err := ed25519.GenerateKey(rand)
		if err != nil {
			return nil, nil, fmt.Errorf("keys: generate Ed25519 key: %w", err)
		}
		return priv, pub, nil
	}
	return nil, nil, fmt.Errorf("keys: unsupported algorithm %q", alg)
}

// loaded is a stored key made usable: its private key opened and its
// signers built once.
type loaded struct {
	rec    store.Key
	public jose.JSONWebKey
	// signers by JWT typ ("at+jwt" for access tokens, "JWT" for ID tokens,
	// "logout+jwt" for back-channel logout tokens).
	signers map[string]jose.Signer
}

func load(rec store.Key, s *Sealer) (*loaded, error) {
	der, err := s.Open(rec.Private, rec.KID)
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: parse private key %s: %w", rec.KID, err)
	}
	var pub jose.JSONWebKey
	if err := pub.UnmarshalJSON(rec.Public); err != nil {
		return nil, fmt.Errorf("keys: parse public key %s: %w", rec.KID, err)
	}
	l := &loaded{rec: rec, public: pub, signers: make(map[string]jose.Signer, 3)}
	for _, typ := range []string{"at+jwt", "JWT", "logout+jwt"} {
		sk := jose.SigningKey{
			Algorithm: jose.SignatureAlgorithm(rec.Alg),
			Key:       jose.JSONWebKey{Key: priv, KeyID: rec.KID, Algorithm: rec.Alg},
		}
		signer, err := jose.NewSigner(sk, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
		if err != nil {
			return nil, fmt.Errorf("keys: signer for %s: %w", rec.KID, err)
		}
		l.signers[typ] = signer
	}
	return l, nil
}
