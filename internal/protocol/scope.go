package protocol

import (
	"slices"
	"strings"
)

// ParseScope splits a scope parameter (RFC 6749 §3.3) into its tokens, in
// order and without duplicates. It reports false when a token holds a
// character outside %x21 / %x23-5B / %x5D-7E.
func ParseScope(s string) ([]string, bool) {
	if s == "" {
		return nil, true
	}
	parts := strings.Split(s, " ")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p == "" {
			continue
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)) {
				return nil, false
			}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, true
}

// JoinScope is the inverse of ParseScope.
func JoinScope(scopes []string) string { return strings.Join(scopes, " ") }

// SubsetOf reports whether every scope in want is in have.
func SubsetOf(want, have []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}
