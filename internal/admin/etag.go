package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// etagOf is a strong entity tag (RFC 9110 §8.8.3) of a record: a digest
// of its representation and of the secret parts it never shows (so
// rotating a secret changes it), computed, never stored.
func etagOf(view any, hidden ...string) string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(view) // the views are plain maps and slices
	for _, s := range hidden {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// ifMatch reads the If-Match header: required says whether its absence
// is refused (428, RFC 6585 §3). It returns a function reporting whether
// a current ETag satisfies it: "*" accepts any, a list accepts any of its
// strong tags, and weak tags never match (RFC 9110 §13.1.1).
func ifMatch(r *http.Request, required bool) (func(etag string) bool, error) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		if required {
			return nil, &Problem{Type: "about:blank", Title: "Precondition Required", Status: http.StatusPreconditionRequired,
				Detail: "send the ETag of your last GET in If-Match, so no one else's change is lost (or If-Match: * to overwrite)"}
		}
		return func(string) bool { return true }, nil
	}
	var tags []string
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			tags = append(tags, strings.TrimSpace(t))
		}
	}
	return func(etag string) bool {
		for _, t := range tags {
			if t == "*" || !strings.HasPrefix(t, "W/") && subtle.ConstantTimeCompare([]byte(t), []byte(etag)) == 1 {
				return true
			}
		}
		return false
	}, nil
}
