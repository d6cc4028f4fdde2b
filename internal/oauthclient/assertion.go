package oauthclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
)

// assertionLifetime is how long a client assertion is valid: a fresh one
// is made for every request, so a minute is plenty and well under the
// five minutes servers commonly allow.
const assertionLifetime = 60 * time.Second

// assertionSigner makes the client assertions of private_key_jwt (RFC
// 7523 §3, OpenID Connect Core §9): iss and sub are the client_id, aud the
// issuer, jti random, exp a minute after iat.
type assertionSigner struct {
	signer        jose.Signer
	alg           jose.SignatureAlgorithm
	clientID, aud string
	now           func() time.Time
}

// AssertionAlg returns the algorithm a client assertion signed with key
// uses: ES256 for a P-256 key, PS256 for RSA (2048 bits or more), EdDSA
// for Ed25519.
func AssertionAlg(key crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return jose.ES256, nil
		}
		return "", fmt.Errorf("an EC key on %s: use P-256 (ES256)", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("an RSA key of %d bits: use 2048 bits or more (PS256)", k.N.BitLen())
		}
		return jose.PS256, nil
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("unsupported key type %T: use a P-256, RSA or Ed25519 key", key.Public())
}

func newAssertionSigner(key crypto.Signer, kid, clientID, aud string) (*assertionSigner, error) {
	alg, err := AssertionAlg(key)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	var signingKey any = key
	switch key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
	default:
		signingKey = cryptosigner.Opaque(key)
	}
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: signingKey}, opts)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return &assertionSigner{signer: signer, alg: alg, clientID: clientID, aud: aud, now: time.Now}, nil
}

// assertion returns a new client assertion, never sent before.
func (a *assertionSigner) assertion() (string, error) {
	now := a.now()
	claims := jwt.Claims{
		Issuer: a.clientID, Subject: a.clientID, Audience: jwt.Audience{a.aud}, ID: rand.Text(),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	s, err := jwt.Signed(a.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign the client assertion: %w", err)
	}
	return s, nil
}
