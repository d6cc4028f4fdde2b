package token

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// SecretHashPrefix marks the stored form of a client secret that Latchkey
// generated.
const SecretHashPrefix = "sha256:"

// HashSecret is the stored form of a client secret Latchkey generated: 32
// random bytes need no slow hash, so a SHA-256 digest is enough and
// checking one costs microseconds.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return SecretHashPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// IsSecretDigest reports whether a stored hash is a HashSecret digest
// (rather than an argon2id string from the config file).
func IsSecretDigest(hash string) bool { return strings.HasPrefix(hash, SecretHashPrefix) }

// CheckSecretDigest compares secret with a HashSecret digest in constant
// time.
func CheckSecretDigest(secret, digest string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(digest)) == 1
}
