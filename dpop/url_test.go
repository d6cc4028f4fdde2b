package dpop_test

import (
	"testing"

	"github.com/latchkey/latchkey/dpop"
)

// S162: NormalizeURL applies RFC 3986 §6.2.2 and §6.2.3, and drops the
// query and fragment (RFC 9449 §4.2).
func TestNormalizeURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://api.example/notes", "https://api.example/notes"},
		{"HTTPS://API.Example/Notes", "https://api.example/Notes"},
		{"https://api.example", "https://api.example/"},
		{"https://api.example:443/x", "https://api.example/x"},
		{"http://api.example:80/x", "http://api.example/x"},
		{"http://api.example:443/x", "http://api.example:443/x"},
		{"https://api.example:8443/x", "https://api.example:8443/x"},
		{"https://api.example:/x", "https://api.example/x"},
		{"https://api.example/a/./b/../c", "https://api.example/a/c"},
		{"https://api.example/a/b/..", "https://api.example/a/"},
		{"https://api.example/a/.", "https://api.example/a/"},
		{"https://api.example/../../x", "https://api.example/x"},
		{"https://api.example/%7euser/%41b", "https://api.example/~user/Ab"},
		{"https://api.example/a%2fb", "https://api.example/a%2Fb"},
		{"https://api.example/a%2Fb", "https://api.example/a%2Fb"},
		{"https://api.example/%2e%2E/x", "https://api.example/x"},
		{"https://api.example/caf%C3%A9", "https://api.example/caf%C3%A9"},
		{"https://api.example/a b", "https://api.example/a%20b"},
		{"https://api.example/notes?x=1&y=2", "https://api.example/notes"},
		{"https://api.example/notes#frag", "https://api.example/notes"},
		{"https://api.example/notes?", "https://api.example/notes"},
		{"https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"},
		{"https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/x"},
		{"https://127.0.0.1:443/", "https://127.0.0.1/"},
	} {
		got, err := dpop.NormalizeURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "/notes", "notes", "ftp://api.example/x", "https:opaque", "https://user:pw@api.example/x",
		"https://api.example/%zz", "https://api.example/%4", "https:///path", "://x",
	} {
		if got, err := dpop.NormalizeURL(bad); err == nil {
			t.Errorf("NormalizeURL(%q) = %q, want an error", bad, got)
		}
	}
}
