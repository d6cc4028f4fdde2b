package formflow

import (
	"net/http"
	"net/url"
	"testing"
)

// The walk ends at the redirect URI itself, with or without the
// parameters of a response, and nowhere else.
func TestRedirectsTo(t *testing.T) {
	t.Parallel()
	const ru = "http://127.0.0.1:9999/cb"
	for _, s := range []string{
		"http://127.0.0.1:9999/cb?code=c1&state=s",
		"http://127.0.0.1:9999/cb?code=c1&state=s&iss=http%3A%2F%2Fas.example",
		"http://127.0.0.1:9999/cb?code=c1&state=s&iss=http%3A%2F%2Fevil.example",
		"http://127.0.0.1:9999/cb?code=c1&state=other",
		"http://127.0.0.1:9999/cb?error=access_denied&state=s",
		"http://127.0.0.1:9999/cb?state=s",
		"http://127.0.0.1:9999/cb#code=c2&state=s",
		"http://127.0.0.1:9999/cb",
	} {
		if loc, _ := url.Parse(s); !redirectsTo(loc, ru) {
			t.Errorf("%s: not taken for the redirect URI", s)
		}
	}
	for _, s := range []string{"http://127.0.0.1:9999/cbx?code=1", "http://127.0.0.1:9999/", "http://127.0.0.1:9998/cb"} {
		if loc, _ := url.Parse(s); redirectsTo(loc, ru) {
			t.Errorf("%s taken for the redirect URI %s", s, ru)
		}
	}
}

// The authorization response is read from the query (RFC 6749 §4.1.2),
// or from the fragment when the query has neither code nor error.
func TestParseResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		loc                     string
		code, state, iss, error string
	}{
		{"http://127.0.0.1:9999/cb?code=c1&state=s", "c1", "s", "", ""},
		{"http://127.0.0.1:9999/cb?code=c1&state=s&iss=http%3A%2F%2Fas.example", "c1", "s", "http://as.example", ""},
		{"http://127.0.0.1:9999/cb?error=access_denied&state=s", "", "s", "", "access_denied"},
		{"http://127.0.0.1:9999/cb#code=c2&state=s", "c2", "s", "", ""},
		{"http://127.0.0.1:9999/cb?code=q#code=f", "q", "", "", ""},
	} {
		loc, _ := url.Parse(tc.loc)
		r := ParseResponse(loc, http.StatusSeeOther)
		if r.Code != tc.code || r.State != tc.state || r.Iss != tc.iss || r.Error != tc.error || r.Status != http.StatusSeeOther || r.Location != loc {
			t.Errorf("%s: %+v, want code %q state %q iss %q error %q", tc.loc, r, tc.code, tc.state, tc.iss, tc.error)
		}
	}
}
