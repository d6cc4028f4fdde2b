package protocol_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/protocol"
)

func formRequest(method, target, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// TestParseForm checks the rules of the one form parser: POST only, a
// form-urlencoded body in UTF-8 (S013), a size cap (A15), each parameter
// at most once (S007, S153), no invalid UTF-8 or NUL, no compression, and
// never the query string.
func TestParseForm(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	cases := []struct {
		name   string
		req    *http.Request
		status int // 0: parsed
		want   map[string]string
	}{
		{"plain", formRequest("POST", "/token", form, "a=1&b=two+words"), 0, map[string]string{"a": "1", "b": "two words"}},
		{"charset utf-8 (S013)", formRequest("POST", "/token", form+"; charset=utf-8", "a=1"), 0, map[string]string{"a": "1"}},
		{"charset UTF-8 no space", formRequest("POST", "/token", form+";charset=UTF-8", "a=1"), 0, map[string]string{"a": "1"}},
		{"empty value is omitted (S007)", formRequest("POST", "/token", form, "a=&b=2"), 0, map[string]string{"b": "2"}},
		{"query is not read", formRequest("POST", "/token?c=3", form, "a=1"), 0, map[string]string{"a": "1"}},
		{"empty body", formRequest("POST", "/token", form, ""), 0, map[string]string{}},
		{"GET", formRequest("GET", "/token", form, ""), 405, nil},
		{"JSON", formRequest("POST", "/token", "application/json", `{"a":1}`), 415, nil},
		{"no content type", formRequest("POST", "/token", "", "a=1"), 415, nil},
		{"latin-1", formRequest("POST", "/token", form+"; charset=iso-8859-1", "a=1"), 415, nil},
		{"gzip", func() *http.Request {
			r := formRequest("POST", "/token", form, "a=1")
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}(), 415, nil},
		{"identity encoding is fine", func() *http.Request {
			r := formRequest("POST", "/token", form, "a=1")
			r.Header.Set("Content-Encoding", "identity")
			return r
		}(), 0, map[string]string{"a": "1"}},
		{"two content types", func() *http.Request {
			r := formRequest("POST", "/token", form, "a=1")
			r.Header.Add("Content-Type", form)
			return r
		}(), 415, nil},
		{"over the cap", formRequest("POST", "/token", form, "a="+strings.Repeat("x", protocol.MaxFormBytes)), 413, nil},
		{"over the cap without Content-Length", func() *http.Request {
			r := formRequest("POST", "/token", form, "a="+strings.Repeat("x", protocol.MaxFormBytes))
			r.ContentLength = -1
			return r
		}(), 413, nil},
		{"exactly the cap", formRequest("POST", "/token", form, "a="+strings.Repeat("x", protocol.MaxFormBytes-2)), 0, nil},
		{"repeated (S007)", formRequest("POST", "/token", form, "a=1&a=2"), 400, nil},
		{"repeated empty (S007)", formRequest("POST", "/token", form, "a=&a="), 400, nil},
		{"invalid UTF-8", formRequest("POST", "/token", form, "a=%ff"), 400, nil},
		{"invalid UTF-8 key", formRequest("POST", "/token", form, "%ff=1"), 400, nil},
		{"NUL", formRequest("POST", "/token", form, "a=x%00y"), 400, nil},
		{"bad escape", formRequest("POST", "/token", form, "a=%zz"), 400, nil},
		{"semicolon", formRequest("POST", "/token", form, "a=1;b=2"), 400, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.ParseForm(tc.req, protocol.MaxFormBytes)
			if tc.status != 0 {
				if err == nil || err.HTTPStatus() != tc.status || err.Code != protocol.ErrInvalidRequest {
					t.Fatalf("err = %v (status %d), want invalid_request with %d", err, statusOf(err), tc.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.want == nil {
				return
			}
			if len(got) != len(tc.want) {
				t.Errorf("form = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got.Get(k) != v || !got.Has(k) {
					t.Errorf("%s = %q, want %q", k, got.Get(k), v)
				}
			}
		})
	}
}

func statusOf(e *protocol.Error) int {
	if e == nil {
		return 0
	}
	return e.HTTPStatus()
}

// TestRepeatedParameterDescriptionIsSafe: the name of a repeated parameter
// is echoed in error_description only shortened and within RFC 6749 §5.2's
// characters (S021).
func TestRepeatedParameterDescriptionIsSafe(t *testing.T) {
	name := `"` + strings.Repeat("x", 100) + "\\"
	_, err := protocol.ParseFormBody(name + "=1&" + name + "=2")
	if err == nil {
		t.Fatal("repeated parameter accepted")
	}
	d := protocol.SafeDescription(err.Description)
	if strings.ContainsAny(d, "\"\\") || len(d) > 100 {
		t.Errorf("description %q", d)
	}
}

// TestParseQuery applies the same rules to a query string.
func TestParseQuery(t *testing.T) {
	if f, err := protocol.ParseQuery("a=1&b=&c=3"); err != nil || len(f) != 2 {
		t.Errorf("ParseQuery = %v, %v", f, err)
	}
	for _, q := range []string{"a=1&a=2", "a=%00", "a=%zz", "a=%c3%28"} {
		if _, err := protocol.ParseQuery(q); err == nil {
			t.Errorf("ParseQuery(%q) accepted", q)
		}
	}
}

// TestRepeatableResource: resource and audience may be sent more than once
// (RFC 8707 §2, RFC 8693 §2.1); every other parameter may not (S007).
func TestRepeatableResource(t *testing.T) {
	f, err := protocol.ParseFormBody("resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example&resource=&audience=x")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.All("resource"); !slices.Equal(got, []string{"https://a.example", "https://b.example"}) {
		t.Errorf("All(resource) = %q", got)
	}
	if got := f.All("audience"); !slices.Equal(got, []string{"x"}) {
		t.Errorf("All(audience) = %q", got)
	}
	if f.All("scope") != nil {
		t.Error("All of an absent parameter is not nil")
	}
	if _, err := protocol.ParseFormBody("resource=a%00b"); err == nil {
		t.Error("a NUL inside a resource was accepted")
	}
}

// TestParseResources: absolute, no fragment, allowed, else invalid_target
// (S204).
func TestParseResources(t *testing.T) {
	allowed := []string{"https://api.example.com", "urn:example:notes"}
	for _, tc := range []struct {
		in   []string
		want []string
		ok   bool
	}{
		{nil, nil, true},
		{[]string{"https://api.example.com"}, []string{"https://api.example.com"}, true},
		{[]string{"urn:example:notes", "https://api.example.com", "urn:example:notes"}, []string{"urn:example:notes", "https://api.example.com"}, true},
		{[]string{"/relative"}, nil, false},
		{[]string{"https://api.example.com#frag"}, nil, false},
		{[]string{"https://api.example.com#"}, nil, false},
		{[]string{"https://other.example.com"}, nil, false},
		{[]string{"https://API.example.com"}, nil, false}, // compared exactly
		{make([]string, 11), nil, false},
	} {
		got, err := protocol.ParseResources(tc.in, allowed)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParseResources(%q) = %q, %v", tc.in, got, err)
			continue
		}
		if err != nil && err.Code != protocol.ErrInvalidTarget {
			t.Errorf("ParseResources(%q) code = %s, want invalid_target", tc.in, err.Code)
		}
	}
}
