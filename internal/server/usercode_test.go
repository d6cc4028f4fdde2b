package server

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalizeUserCode: the normaliser of typed user codes (RFC 8628
// §6.1, S193) agrees with a plain reading of the rule (case ignored,
// dashes and spaces ignored, anything else outside the alphabet not
// valid), never panics, and only ever yields 8 letters of the alphabet.
// Seeds: testdata/fuzz/FuzzNormalizeUserCode.
func FuzzNormalizeUserCode(f *testing.F) {
	f.Fuzz(func(t *testing.T, typed string) {
		code, ok := normalizeUserCode(typed)
		want, wantOK := plainNormalize(typed)
		if ok != wantOK || code != want {
			t.Fatalf("normalizeUserCode(%q) = %q, %v; the rule says %q, %v", typed, code, ok, want, wantOK)
		}
		if !ok {
			return
		}
		if len(code) != userCodeLen || strings.Trim(code, userCodeAlphabet) != "" {
			t.Fatalf("normalizeUserCode(%q) = %q: not 8 letters of the alphabet", typed, code)
		}
		if again, ok := normalizeUserCode(formatUserCode(code)); !ok || again != code {
			t.Fatalf("the shown form %q of %q reads as %q, %v", formatUserCode(code), code, again, ok)
		}
		if lower, ok := normalizeUserCode(strings.ToLower(typed)); !ok || lower != code {
			t.Fatalf("%q in lower case reads as %q, %v, want %q", typed, lower, ok, code)
		}
	})
}

// plainNormalize is the rule written as plainly as possible, to check
// normalizeUserCode against.
func plainNormalize(typed string) (string, bool) {
	if len(typed) > maxUserCodeInput || !utf8.ValidString(typed) {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.NewReplacer("-", "", " ", "").Replace(typed) {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		if !strings.ContainsRune(userCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != userCodeLen {
		return "", false
	}
	return b.String(), true
}

func TestNormalizeUserCode(t *testing.T) {
	for _, tc := range []struct{ typed, want string }{
		{"BCDF-GHJK", "BCDFGHJK"},
		{"bcdf-ghjk", "BCDFGHJK"},
		{" bc df gh jk ", "BCDFGHJK"},
		{"B-C-D-F-G-H-J-K", "BCDFGHJK"},
		{"BCDFGHJK", "BCDFGHJK"},
		{"BCDF-GHJ", ""},       // 7 letters
		{"BCDF-GHJKL", ""},     // 9
		{"ABCD-GHJK", ""},      // a vowel
		{"BCDF-GHJ1", ""},      // a digit
		{"BCDF_GHJK", ""},      // another separator
		{"BCDF\tGHJK", ""},     // a tab is not a space
		{"BCDF-GHJ\u212a", ""}, // the Kelvin sign is not K
		{"BCDF-GHJ\u017f", ""}, // long s: strings.ToUpper would make it S
		{"ＢＣＤＦ-ＧＨＪＫ", ""},      // full width
		{"", ""},
		{strings.Repeat("-", 60) + "BCDFGHJK", ""}, // longer than anyone types
	} {
		got, ok := normalizeUserCode(tc.typed)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("normalizeUserCode(%q) = %q, %v; want %q", tc.typed, got, ok, tc.want)
		}
	}
}

// TestNewUserCode: codes are 8 letters of the alphabet, and every letter
// is equally likely: a reader that yields each byte value equally often
// gives each letter exactly as often, since bytes of 240 and more are
// drawn again instead of wrapping around (no modulo bias, S193).
func TestNewUserCode(t *testing.T) {
	cycle := make([]byte, 256)
	for i := range cycle {
		cycle[i] = byte(i)
	}
	counts := map[rune]int{}
	r := bytes.NewReader(bytes.Repeat(cycle, 40)) // 40 × 240 usable bytes = 1200 codes
	for range 1200 {
		code, err := newUserCode(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := normalizeUserCode(code); !ok || len(code) != userCodeLen {
			t.Fatalf("newUserCode = %q, not a normalised code", code)
		}
		for _, c := range code {
			counts[c]++
		}
	}
	for _, c := range userCodeAlphabet {
		if counts[c] != 1200*userCodeLen/len(userCodeAlphabet) {
			t.Errorf("letter %c drawn %d times, want %d: %v", c, counts[c], 1200*userCodeLen/len(userCodeAlphabet), counts)
		}
	}
	seen := map[string]bool{}
	for range 1000 {
		code, err := newUserCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if seen[code] {
			t.Fatalf("newUserCode repeated %s within 1000 draws", code)
		}
		seen[code] = true
	}
	if _, err := newUserCode(bytes.NewReader(nil)); err == nil {
		t.Error("newUserCode without randomness did not fail")
	}
}
