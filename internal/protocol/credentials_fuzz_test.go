package protocol_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/protocol"
)

// FuzzParseCredentials: whatever the Authorization header, query and body,
// ParseCredentials never panics; it answers invalid_request or
// invalid_client, or credentials that name a client (or carry an assertion
// that will) and were presented one way only (S002, S004).
func FuzzParseCredentials(f *testing.F) {
	for _, s := range [][3]string{
		{"Basic YXBwOnMzY3JldA==", "", "grant_type=client_credentials"},
		{"Basic YXBwOnMzY3JldA==", "", "client_secret=x"},
		{"", "", "client_id=app&client_secret=s"},
		{"", "", "client_id=app&client_assertion_type=urn%3Ax&client_assertion=a.b.c"},
		{"", "", "client_id=app&client_assertion=a.b.c"},
		{"", "client_secret=x", "client_id=app"},
		{"Bearer tok", "", "client_id=spa"},
		{"Basic !!!", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, auth, query, body string) {
		r := httptest.NewRequest("POST", "/token", strings.NewReader(body))
		if u, err := r.URL.Parse("/token?" + query); err == nil {
			r.URL = u
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		form, ferr := protocol.ParseFormBody(body)
		if ferr != nil {
			return
		}
		c, err := protocol.ParseCredentials(r, form)
		if err != nil {
			if err.Code != protocol.ErrInvalidRequest && err.Code != protocol.ErrInvalidClient {
				t.Fatalf("error code %q", err.Code)
			}
			return
		}
		// client_id is optional beside an assertion (RFC 7523 §3): the
		// server takes it from the assertion's subject.
		if c.ClientID == "" && !c.HasAssertion() {
			t.Fatalf("credentials without a client id or an assertion: %+v", c)
		}
		switch {
		case c.HasAssertion():
			if c.Presented != "" || c.Secret != "" || c.AssertionType == "" {
				t.Fatalf("assertion mixed with another method: %+v", c)
			}
		case c.Presented == protocol.AuthNone:
			if c.Secret != "" {
				t.Fatalf("none with a secret: %+v", c)
			}
		case c.Presented != protocol.AuthBasic && c.Presented != protocol.AuthPost:
			t.Fatalf("presented %q", c.Presented)
		}
	})
}
