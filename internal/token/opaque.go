// Package token mints and verifies Latchkey's tokens: JWT access tokens
// (RFC 9068) and ID tokens (OpenID Connect Core §2), and the random opaque
// values (codes, device codes, refresh tokens, opaque access tokens,
// client secrets, session cookies) with the SHA-256 digests under which
// they are stored.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Prefixes make Latchkey's secrets recognisable to secret scanners and to
// people reading logs of a leak.
const (
	PrefixCode         = "lk_ac_"
	PrefixRefresh      = "lk_rt_"
	PrefixAccess       = "lk_at_"
	PrefixClientSecret = "lk_cs_"
	PrefixSession      = "lk_ss_"
	PrefixDeviceCode   = "lk_dc_"
	// PrefixRegistrationToken marks an RFC 7592 registration access token.
	PrefixRegistrationToken = "lk_rat_"
	// PrefixInitialToken marks an RFC 7591 §3 initial access token.
	PrefixInitialToken = "lk_iat_"
)

// randomBytes is the entropy of every opaque value: 256 bits, above RFC 6749
// §10.10's 2^-160 guessing bound (S046).
const randomBytes = 32

// New returns a fresh opaque value with prefix and its storage digest.
func New(prefix string, rand io.Reader) (value, digest string, err error) {
	b := make([]byte, randomBytes)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", "", fmt.Errorf("token: read random: %w", err)
	}
	value = prefix + base64.RawURLEncoding.EncodeToString(b)
	return value, Digest(value), nil
}

// Digest is the storage form of an opaque value: base64url(SHA-256(value)).
// Lookups go by digest, so a database leak reveals no usable token.
func Digest(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Successor is the refresh token that replaces old on rotation. It is
// derived (HMAC-SHA256 under a server key) rather than drawn at random, so
// that every instance answering concurrent refreshes of old within a
// client's grace window hands out the same successor without storing it in
// clear; without the server key it is as unpredictable as a random value.
func Successor(key []byte, old string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("latchkey refresh successor\x00"))
	mac.Write([]byte(old))
	return PrefixRefresh + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// HasPrefix reports whether value looks like one of Latchkey's opaque values
// of the given kind, a cheap filter before a store lookup.
func HasPrefix(value, prefix string) bool {
	return strings.HasPrefix(value, prefix) && len(value) == len(prefix)+43
}
