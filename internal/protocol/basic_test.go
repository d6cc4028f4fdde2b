package protocol_test

import (
	"encoding/base64"
	"errors"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/protocol"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestParseBasic checks RFC 6749 §2.3.1 and Appendix B: id and secret are
// form-urlencoded before Base64, so both are decoded (S003), the scheme is
// case-insensitive (RFC 9110 §11.1), and anything malformed is refused.
func TestParseBasic(t *testing.T) {
	const weird = "a+b%c:d-e f/g=h&i~j"
	cases := []struct {
		name       string
		header     string
		id, secret string
		err        error // nil: ok; ErrNoBasic; or any other error (errMalformed)
	}{
		{"plain", "Basic " + b64("app:s3cret"), "app", "s3cret", nil},
		{"encoded specials (S003)", "Basic " + b64(url.QueryEscape("we:rd+id")+":"+url.QueryEscape(weird)), "we:rd+id", weird, nil},
		{"- as %2D (oauth4webapi)", "Basic " + b64("my%2Dapp:x%2Dy"), "my-app", "x-y", nil},
		{"+ is a space", "Basic " + b64("app:a+b"), "app", "a b", nil},
		{"%2B is a plus", "Basic " + b64("app:a%2Bb"), "app", "a+b", nil},
		{"colon in the secret after encoding", "Basic " + b64("app:a%3Ab"), "app", "a:b", nil},
		{"raw colon in the secret stays", "Basic " + b64("app:a:b"), "app", "a:b", nil},
		{"empty secret", "Basic " + b64("app:"), "app", "", nil},
		{"lower-case scheme", "basic " + b64("app:x"), "app", "x", nil},
		{"upper-case scheme", "BASIC " + b64("app:x"), "app", "x", nil},
		{"extra spaces", "Basic   " + b64("app:x") + "  ", "app", "x", nil},
		{"bearer", "Bearer abc", "", "", protocol.ErrNoBasic},
		{"DPoP", "DPoP abc", "", "", protocol.ErrNoBasic},
		{"empty", "", "", "", protocol.ErrNoBasic},
		{"scheme only", "Basic", "", "", protocol.ErrNoBasic},
		{"not base64", "Basic !!!", "", "", errMalformed},
		{"URL-safe base64", "Basic " + base64.URLEncoding.EncodeToString([]byte("a?>:x")), "", "", errMalformed},
		{"no colon", "Basic " + b64("app"), "", "", errMalformed},
		{"empty id", "Basic " + b64(":x"), "", "", errMalformed},
		{"bad escape in id", "Basic " + b64("a%zz:x"), "", "", errMalformed},
		{"bad escape in secret", "Basic " + b64("app:%"), "", "", errMalformed},
		{"NUL in the id", "Basic " + b64("app%00:x"), "", "", errMalformed},
		{"invalid UTF-8 in the secret", "Basic " + b64("app:%ff"), "", "", errMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, secret, err := protocol.ParseBasic(tc.header)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tc.err == protocol.ErrNoBasic && !errors.Is(err, protocol.ErrNoBasic):
				t.Fatalf("err = %v, want ErrNoBasic", err)
			case tc.err == errMalformed && (err == nil || errors.Is(err, protocol.ErrNoBasic)):
				t.Fatalf("err = %v, want a malformed-credentials error", err)
			}
			if id != tc.id || secret != tc.secret {
				t.Errorf("got %q:%q, want %q:%q", id, secret, tc.id, tc.secret)
			}
		})
	}
}

var errMalformed = errors.New("malformed")
