package dpop_test

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/dpop"
)

// S170, S171: a nonce is valid in its step and the next one, on every
// source that holds the key, and on no other; it cannot be made without
// the key.
func TestNonceSource(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	s := &dpop.NonceSource{Key: key, Step: time.Minute}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	n := s.Current(start.Add(10 * time.Second))
	if len(n) != 43 || strings.ContainsAny(n, "+/=") {
		t.Fatalf("nonce %q is not 32 bytes of base64url", n)
	}
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {59 * time.Second, true}, {60 * time.Second, true}, {119 * time.Second, true},
		{120 * time.Second, false}, {-time.Second, false}, {time.Hour, false},
	} {
		if got := s.Valid(n, start.Add(tc.at)); got != tc.want {
			t.Errorf("Valid at +%v = %v, want %v", tc.at, got, tc.want)
		}
	}
	if s.Current(start.Add(61*time.Second)) == n {
		t.Error("the nonce did not change with the step")
	}
	twin := &dpop.NonceSource{Key: append([]byte(nil), key...), Step: time.Minute}
	if !twin.Valid(n, start.Add(30*time.Second)) {
		t.Error("another instance with the same key refuses the nonce")
	}
	other := &dpop.NonceSource{Key: []byte(strings.Repeat("o", 32)), Step: time.Minute}
	if other.Valid(n, start) {
		t.Error("a source with another key accepts the nonce")
	}
	for _, bad := range []string{"", "x", n[:42], n + "A", strings.Repeat("A", 43), "!" + n[1:]} {
		if s.Valid(bad, start) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
	if (&dpop.NonceSource{}).Valid(n, start) {
		t.Error("a source without a key accepts nonces")
	}
	def := &dpop.NonceSource{Key: key}
	if !def.Valid(def.Current(start), start.Add(dpop.DefaultNonceStep)) {
		t.Error("the default step is not used")
	}
}
