package dpop

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of jwk's public
// key, base64url-encoded without padding: the value of cnf.jkt and
// dpop_jkt (RFC 9449 §6.1, §10).
func Thumbprint(jwk jose.JSONWebKey) (string, error) {
	pub := jwk.Public()
	if pub.Key == nil {
		return "", fmt.Errorf("dpop: thumbprint: %T is not an asymmetric key", jwk.Key)
	}
	sum, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("dpop: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// AccessTokenHash returns the ath claim for an access token: the
// base64url-encoded SHA-256 of its ASCII characters (RFC 9449 §4.2).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
