package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// Prover makes the DPoP proofs of a client (RFC 9449 §4.2) with one key.
// It is safe for concurrent use.
type Prover struct {
	// Now returns the time proofs are made at; nil means time.Now.
	Now func() time.Time

	signer jose.Signer
	alg    jose.SignatureAlgorithm
	jkt    string
	public jose.JSONWebKey
}

// GenerateKey returns a new P-256 key, for ES256 proofs.
func GenerateKey() (crypto.Signer, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// NewProver returns a Prover signing with key: an ECDSA key on P-256,
// P-384 or P-521 (ES256, ES384, ES512), an Ed25519 key (EdDSA), or an RSA
// key of 2048 bits or more (PS256). Other crypto.Signer implementations
// (a key in an HSM, say) are used through their public key's type.
func NewProver(key crypto.Signer) (*Prover, error) {
	if key == nil {
		return nil, errors.New("dpop: NewProver: no key")
	}
	pub := jose.JSONWebKey{Key: key.Public()}
	alg, err := algFor(pub.Key)
	if err != nil {
		return nil, err
	}
	jkt, err := Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	// The public JWK is serialized once and placed in every header as is.
	jwk, err := json.Marshal(pub)
	if err != nil {
		return nil, fmt.Errorf("dpop: NewProver: %w", err)
	}
	var signingKey any = key
	switch key.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
	default:
		signingKey = cryptosigner.Opaque(key)
	}
	opts := (&jose.SignerOptions{}).WithType("dpop+jwt").WithHeader("jwk", json.RawMessage(jwk))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: signingKey}, opts)
	if err != nil {
		return nil, fmt.Errorf("dpop: NewProver: %w", err)
	}
	return &Prover{signer: signer, alg: alg, jkt: jkt, public: pub}, nil
}

// algFor picks the algorithm for a public key.
func algFor(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	case *rsa.PublicKey:
		if k.N.BitLen() >= minRSABits {
			return jose.PS256, nil
		}
		return "", fmt.Errorf("dpop: NewProver: an RSA key needs %d bits or more", minRSABits)
	}
	return "", fmt.Errorf("dpop: NewProver: unsupported key type %T", pub)
}

// Thumbprint returns the RFC 7638 thumbprint of the prover's key, the
// dpop_jkt of an authorization request and the cnf.jkt of the tokens
// bound to it (RFC 9449 §6, §10).
func (p *Prover) Thumbprint() string { return p.jkt }

// Alg returns the JWS algorithm of the proofs.
func (p *Prover) Alg() jose.SignatureAlgorithm { return p.alg }

// PublicKey returns the public key proofs embed.
func (p *Prover) PublicKey() jose.JSONWebKey { return p.public }

// Proof returns a proof for a request of method to rawURL (its query and
// fragment are left out of htu), with a fresh jti and iat now. When
// accessToken is not empty the proof carries its ath, as requests to a
// resource server must; nonce, when not empty, is the server's latest
// DPoP-Nonce.
func (p *Prover) Proof(method, rawURL, accessToken, nonce string) (string, error) {
	htu, err := NormalizeURL(rawURL)
	if err != nil {
		return "", err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	c := struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   int64  `json:"iat"`
		ATH   string `json:"ath,omitempty"`
		Nonce string `json:"nonce,omitempty"`
	}{JTI: rand.Text(), HTM: method, HTU: htu, IAT: now().Unix(), Nonce: nonce}
	if accessToken != "" {
		c.ATH = AccessTokenHash(accessToken)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("dpop: proof: %w", err)
	}
	jws, err := p.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("dpop: proof: %w", err)
	}
	return jws.CompactSerialize()
}
