package token_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/token"
)

// TestNewOpaqueValues checks S046 and the stored form: 256 random bits,
// base64url after a readable prefix, stored only as the SHA-256 digest,
// and never the same twice.
func TestNewOpaqueValues(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v, digest, err := token.New(token.PrefixRefresh, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !token.HasPrefix(v, token.PrefixRefresh) || len(v) != len(token.PrefixRefresh)+43 {
			t.Fatalf("value %q", v)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v, token.PrefixRefresh))
		if err != nil || len(raw) != 32 {
			t.Fatalf("random part: %d bytes, %v", len(raw), err)
		}
		sum := sha256.Sum256([]byte(v))
		if digest != base64.RawURLEncoding.EncodeToString(sum[:]) || digest != token.Digest(v) {
			t.Fatalf("digest %q is not base64url(SHA-256(value))", digest)
		}
		if strings.Contains(digest, v) || seen[v] {
			t.Fatal("digest reveals the value, or a value repeated")
		}
		seen[v] = true
	}
	if _, _, err := token.New("", bytes.NewReader(make([]byte, 10))); err == nil {
		t.Error("a short random source was not reported")
	}
}

// TestHasPrefix checks the cheap filter before a store lookup.
func TestHasPrefix(t *testing.T) {
	good := token.PrefixAccess + strings.Repeat("A", 43)
	for v, want := range map[string]bool{
		good:               true,
		good + "A":         false,
		good[:len(good)-1]: false,
		token.PrefixRefresh + strings.Repeat("A", 43): false,
		"": false,
	} {
		if got := token.HasPrefix(v, token.PrefixAccess); got != want {
			t.Errorf("HasPrefix(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestSuccessor checks that rotation successors are deterministic under
// one key (so instances agree within the grace window), differ between
// keys and tokens, and look like refresh tokens.
func TestSuccessor(t *testing.T) {
	k1, k2 := []byte("key-one-0123456789abcdef01234567"), []byte("key-two-0123456789abcdef01234567")
	a := token.Successor(k1, "lk_rt_old")
	if a != token.Successor(k1, "lk_rt_old") {
		t.Error("successor is not deterministic")
	}
	if a == token.Successor(k2, "lk_rt_old") || a == token.Successor(k1, "lk_rt_other") {
		t.Error("successor does not depend on key and token")
	}
	if !token.HasPrefix(a, token.PrefixRefresh) {
		t.Errorf("successor %q is not shaped like a refresh token", a)
	}
}
