package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// DefaultNonceStep is NonceSource.Step when it is zero.
const DefaultNonceStep = 5 * time.Minute

// noncePurpose separates these MACs from any other made with the same key.
const noncePurpose = "latchkey dpop nonce v1\x00"

// NonceSource makes server nonces (RFC 9449 §8, §9) without storing them:
// the nonce of a time step is an HMAC-SHA256 of the step's number under
// Key, so it cannot be predicted without Key, and every instance holding
// Key gives and accepts the same nonces. A nonce is valid during its step
// and the next, so it lives between Step and twice Step.
//
// Give each server its own Key (32 random bytes or more), so that the
// nonces one server hands out are not accepted by another.
type NonceSource struct {
	// Key is the secret the nonces are derived from.
	Key []byte
	// Step is how often the nonce changes. Zero means DefaultNonceStep.
	Step time.Duration
}

// Current returns the nonce to hand out at now, in a DPoP-Nonce header.
func (s *NonceSource) Current(now time.Time) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(s.step(now)))
}

// Valid reports whether nonce is the nonce of now's step or of the step
// before, comparing in constant time.
func (s *NonceSource) Valid(nonce string, now time.Time) bool {
	if len(s.Key) == 0 || len(nonce) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return false
	}
	var got [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Decode(got[:], []byte(nonce)); err != nil || n != sha256.Size {
		return false
	}
	step := s.step(now)
	cur := hmac.Equal(got[:], s.mac(step))
	prev := hmac.Equal(got[:], s.mac(step-1))
	return cur || prev
}

func (s *NonceSource) step(now time.Time) int64 {
	step := s.Step
	if step <= 0 {
		step = DefaultNonceStep
	}
	return now.UnixNano() / int64(step)
}

func (s *NonceSource) mac(step int64) []byte {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte(noncePurpose))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(step))
	m.Write(b[:])
	return m.Sum(nil)
}
