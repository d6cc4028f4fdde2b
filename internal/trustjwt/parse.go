package trustjwt

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/latchkey/latchkey/internal/clientjwt"
)

// maxIssuerBytes bounds what UnsafeIssuer returns.
const maxIssuerBytes = 1024

// UnsafeIssuer returns the iss a token claims, WITHOUT verifying
// anything: the server uses it only to choose the trusted issuer whose
// configuration Verify then checks the token against. It is false for a
// token over clientjwt.MaxAssertionBytes, not shaped as a compact JWS, or
// whose iss is missing, not a string or longer than 1 KiB.
func UnsafeIssuer(raw string) (string, bool) {
	if len(raw) > clientjwt.MaxAssertionBytes || strings.Count(raw, ".") != 2 {
		return "", false
	}
	first := strings.IndexByte(raw, '.')
	second := first + 1 + strings.IndexByte(raw[first+1:], '.')
	payload, err := base64.RawURLEncoding.DecodeString(raw[first+1 : second])
	if err != nil {
		return "", false
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Issuer == "" || len(c.Issuer) > maxIssuerBytes {
		return "", false
	}
	return c.Issuer, true
}
