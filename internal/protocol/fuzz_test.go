package protocol_test

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/protocol"
)

// FuzzParseFormBody: the form parser never panics; what it accepts has
// each parameter once (it refuses any body in which url.ParseQuery sees a
// key twice), holds only valid UTF-8 without NUL and no empty values, and
// survives a round trip through url.Values.Encode unchanged.
func FuzzParseFormBody(f *testing.F) {
	for _, s := range []string{"grant_type=client_credentials&scope=read+write", "a=1&a=2", "a=&a=", "a=%ff", "a=%00",
		"a=%zz", "a=1;b=2", "=x", "&&&", "a", "%c3%a9=%e2%82%ac", "scope=read%20write&client_id=a%2Bb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := protocol.ParseFormBody(body)
		if err != nil {
			if err.Code != protocol.ErrInvalidRequest || form != nil {
				t.Fatalf("error %v with form %v", err, form)
			}
			return
		}
		values, qerr := url.ParseQuery(body)
		if qerr != nil {
			t.Fatalf("accepted %q that url.ParseQuery refuses: %v", body, qerr)
		}
		for k, vs := range values {
			if len(vs) > 1 && k != "resource" && k != "audience" {
				t.Fatalf("accepted repeated parameter %q in %q", k, body)
			}
		}
		back := url.Values{}
		for k, v := range form {
			if v == "" {
				t.Fatalf("empty value kept for %q", k)
			}
			for _, one := range form.All(k) {
				if one == "" || !utf8.ValidString(k) || !utf8.ValidString(one) || strings.ContainsRune(k+one, 0) {
					t.Fatalf("accepted an empty value, invalid UTF-8 or NUL: %q=%q", k, one)
				}
				back.Add(k, one)
			}
		}
		again, err := protocol.ParseFormBody(back.Encode())
		if err != nil || len(again) != len(form) {
			t.Fatalf("round trip of %v: %v, %v", form, again, err)
		}
		for k, v := range form {
			if again[k] != v {
				t.Fatalf("round trip changed %q: %q → %q", k, v, again[k])
			}
		}
	})
}

// FuzzParseBasic: ParseBasic never panics on any header; and credentials
// encoded as RFC 6749 §2.3.1 says (form-urlencode, join with a colon,
// Base64) come back exactly, whenever the id is non-empty and both are
// valid UTF-8 without NUL (S003).
func FuzzParseBasic(f *testing.F) {
	for _, s := range [][3]string{
		{"Basic YXBwOnMzY3JldA==", "app", "s3cret"},
		{"basic " + base64.StdEncoding.EncodeToString([]byte("we%3Ard%2Bid:a%2Bb%25c%3Ad-e+f")), "we:rd+id", "a+b%c:d-e f"},
		{"Bearer x", "my-app", "x-y"},
		{"Basic !!!", "", ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte(":")), "é", "\x00"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, header, id, secret string) {
		// Any header: no panic, and success means a usable id.
		if gotID, gotSecret, err := protocol.ParseBasic(header); err == nil {
			if gotID == "" || !utf8.ValidString(gotID) || !utf8.ValidString(gotSecret) || strings.ContainsRune(gotID+gotSecret, 0) {
				t.Fatalf("ParseBasic(%q) = %q, %q", header, gotID, gotSecret)
			}
		}
		// Encoded credentials round-trip.
		h := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
		gotID, gotSecret, err := protocol.ParseBasic(h)
		usable := id != "" && utf8.ValidString(id) && utf8.ValidString(secret) && !strings.ContainsRune(id+secret, 0)
		if usable && (err != nil || gotID != id || gotSecret != secret) {
			t.Fatalf("round trip of %q:%q = %q:%q, %v", id, secret, gotID, gotSecret, err)
		}
		if !usable && err == nil {
			t.Fatalf("accepted unusable credentials %q:%q", id, secret)
		}
	})
}

// FuzzParseScope: ParseScope never panics; an accepted scope has non-empty
// tokens of allowed characters, no duplicates, each found in the input,
// and joining and parsing again gives the same list.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"read write", "  a  b a ", `a "b"`, "a\\b", "rеad", "urn:x https://x.example/y?z", "\x00", "\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := protocol.ParseScope(in)
		if !ok {
			if got != nil {
				t.Fatalf("refused %q but returned %q", in, got)
			}
			return
		}
		seen := map[string]bool{}
		for _, s := range got {
			if s == "" || seen[s] || !strings.Contains(in, s) {
				t.Fatalf("ParseScope(%q) = %q", in, got)
			}
			seen[s] = true
			for i := 0; i < len(s); i++ {
				if c := s[i]; c <= 0x20 || c == '"' || c == '\\' || c > 0x7e {
					t.Fatalf("token %q holds %q", s, c)
				}
			}
		}
		again, ok := protocol.ParseScope(protocol.JoinScope(got))
		if !ok || len(again) != len(got) {
			t.Fatalf("round trip of %q: %q", got, again)
		}
		for i := range got {
			if again[i] != got[i] {
				t.Fatalf("round trip of %q: %q", got, again)
			}
		}
	})
}
