// Package webhook verifies the deliveries of Latchkey's audit webhook, for
// receivers written in Go. It uses the standard library only.
//
// Each delivery is a POST whose JSON body lists events and whose header
//
//	Latchkey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// signs the raw body with the secret of audit.webhook.secret. Verify
// recomputes the HMAC, compares it in constant time and refuses a
// timestamp outside the tolerance, so a captured delivery cannot be
// replayed later. Receivers in other languages follow the same steps.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header is the name of the signature header.
const Header = "Latchkey-Signature"

// Errors of Verify.
var (
	// ErrBadSignature: the header is malformed or the HMAC does not match
	// (wrong secret, or a changed body).
	ErrBadSignature = errors.New("webhook: signature does not match")
	// ErrStale: the signature is valid but its timestamp is too far from now.
	ErrStale = errors.New("webhook: signature timestamp outside tolerance")
)

// Sign returns the Header value for body sent at t under secret.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks the Header value header against the raw body received at
// now: the HMAC must match and the timestamp be within tolerance of now
// (five minutes is usual).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}
