package protocol_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/protocol"
)

// TestParseScope checks RFC 6749 §3.3 (S015): space-delimited,
// case-sensitive, duplicates dropped in order, only %x21 / %x23-5B /
// %x5D-7E inside a token.
func TestParseScope(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"read", []string{"read"}, true},
		{"read write", []string{"read", "write"}, true},
		{"write read write", []string{"write", "read"}, true},
		{"  read   write ", []string{"read", "write"}, true},
		{"Read read", []string{"Read", "read"}, true},
		{"urn:x:y https://api.example/x!#$%&'()*+,-./:;<=>?@[]^_`{|}~", []string{"urn:x:y", "https://api.example/x!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}, true},
		{`read "write"`, nil, false},
		{`a\b`, nil, false},
		{"read\twrite", nil, false},
		{"read\nwrite", nil, false},
		{"rеad", nil, false}, // Cyrillic е
		{"read\x00", nil, false},
	}
	for _, tc := range cases {
		got, ok := protocol.ParseScope(tc.in)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParseScope(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if !protocol.SubsetOf([]string{"a"}, []string{"a", "b"}) || protocol.SubsetOf([]string{"c"}, []string{"a"}) ||
		!protocol.SubsetOf(nil, nil) {
		t.Error("SubsetOf")
	}
}

// TestPKCE checks RFC 7636: the Appendix B vector, the verifier syntax
// (S062), and that a wrong or malformed verifier fails (S067).
func TestPKCE(t *testing.T) {
	const verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := protocol.S256Challenge(verifier); got != challenge {
		t.Errorf("S256Challenge = %s, want %s (RFC 7636 Appendix B)", got, challenge)
	}
	if !protocol.VerifyPKCE(verifier, challenge) {
		t.Error("the RFC 7636 Appendix B pair does not verify")
	}
	for _, v := range []string{"", verifier[:42], strings.Repeat("a", 129), verifier[:42] + "+", verifier[:42] + "/", "x" + verifier[1:]} {
		if protocol.VerifyPKCE(v, challenge) {
			t.Errorf("VerifyPKCE(%q) passed", v)
		}
	}
	if !protocol.ValidPKCEValue(strings.Repeat("-._~", 11)) || !protocol.ValidPKCEValue(strings.Repeat("Z", 128)) {
		t.Error("valid verifier refused")
	}
}

// TestStatusFor checks the one code → status map (STYLE 1, S032, S033).
func TestStatusFor(t *testing.T) {
	for code, want := range map[string]int{
		protocol.ErrInvalidClient: 401, protocol.ErrInvalidToken: 401, protocol.ErrInsufficientScope: 403,
		protocol.ErrServerError: 500, protocol.ErrTemporarilyUnavailable: 503, protocol.ErrInvalidGrant: 400,
		protocol.ErrInvalidRequest: 400, protocol.ErrUnsupportedGrantType: 400, protocol.ErrInvalidScope: 400,
		protocol.ErrUnauthorizedClient: 400,
	} {
		if got := protocol.StatusFor(code); got != want {
			t.Errorf("StatusFor(%s) = %d, want %d", code, got, want)
		}
	}
	e := &protocol.Error{Code: protocol.ErrInvalidRequest, Status: http.StatusRequestEntityTooLarge}
	if e.HTTPStatus() != 413 {
		t.Error("Status override ignored")
	}
}

// TestSafeDescription checks S021: only %x20-21 / %x23-5B / %x5D-7E, and
// a bounded length.
func TestSafeDescription(t *testing.T) {
	got := protocol.SafeDescription("bad \"quote\" \\ back\r\nslash\ttab é" + strings.Repeat("x", 400))
	if len(got) > 300 {
		t.Errorf("length %d", len(got))
	}
	for i := 0; i < len(got); i++ {
		c := got[i]
		if c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			t.Fatalf("character %q at %d in %q", c, i, got)
		}
	}
	if protocol.SafeDescription("plain text") != "plain text" {
		t.Error("clean text changed")
	}
}

// TestWriteError checks the JSON error writer: status, no-store (S030),
// the challenge, Retry-After rounded up, and no description for
// server_error.
func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	protocol.WriteError(rec, &protocol.Error{Code: protocol.ErrInvalidClient, Description: "nope", Challenge: `Basic realm="x"`,
		RetryAfter: 1500 * time.Millisecond})
	h := rec.Header()
	if rec.Code != 401 || h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" ||
		h.Get("Pragma") != "no-cache" || h.Get("WWW-Authenticate") != `Basic realm="x"` || h.Get("Retry-After") != "2" {
		t.Errorf("%d %v", rec.Code, h)
	}
	if rec.Body.String() != `{"error":"invalid_client","error_description":"nope"}` {
		t.Errorf("body %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	protocol.WriteError(rec, &protocol.Error{Code: protocol.ErrServerError, Description: "db password is hunter2"})
	if rec.Code != 500 || rec.Body.String() != `{"error":"server_error"}` {
		t.Errorf("server_error leaked: %d %s", rec.Code, rec.Body)
	}
}
