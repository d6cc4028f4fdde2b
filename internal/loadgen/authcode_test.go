package loadgen

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/formflow"
)

// The authorization response (RFC 6749 §4.1.2): the code only with the
// right state, an error code as the failure, iss checked (RFC 9207). Which
// locations are the redirect URI is formflow's TestRedirectsTo.
func TestBenchAuthorizationResponse(t *testing.T) {
	t.Parallel()
	r := &runner{cfg: Config{RedirectURI: "http://127.0.0.1:9999/cb"}}
	r.md.Issuer = "http://as.example"
	for _, tc := range []struct {
		loc, code, failure string
		issRequired        bool
	}{
		{"http://127.0.0.1:9999/cb?code=c1&state=s", "c1", "", false},
		{"http://127.0.0.1:9999/cb?code=c1&state=s&iss=http%3A%2F%2Fas.example", "c1", "", true},
		{"http://127.0.0.1:9999/cb?code=c1&state=s", "", "iss mismatch", true},
		{"http://127.0.0.1:9999/cb?code=c1&state=s&iss=http%3A%2F%2Fevil.example", "", "iss mismatch", false},
		{"http://127.0.0.1:9999/cb?code=c1&state=other", "", "state mismatch", false},
		{"http://127.0.0.1:9999/cb?error=access_denied&state=s", "", "access_denied", false},
		{"http://127.0.0.1:9999/cb?state=s", "", "no code", false},
		{"http://127.0.0.1:9999/cb#code=c2&state=s", "c2", "", false},
	} {
		r.md.ISSParameter = tc.issRequired
		loc, _ := url.Parse(tc.loc)
		code, o := r.authorizationResponse(formflow.ParseResponse(loc, http.StatusSeeOther), "s")
		if code != tc.code || o.code != tc.failure || o.ok != (tc.failure == "") {
			t.Errorf("%s (iss required %v): code %q, outcome %+v; want code %q, failure %q", tc.loc, tc.issRequired, code, o, tc.code, tc.failure)
		}
	}
}
