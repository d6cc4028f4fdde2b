package protocol

import (
	"net/url"
	"slices"
)

// maxResources bounds how many resource indicators one request may name.
const maxResources = 10

// ResourceProblem says what is wrong with a resource indicator (RFC 8707
// §2, S204), or "" when it is an absolute URI without a fragment.
func ResourceProblem(r string) string {
	u, err := url.Parse(r)
	switch {
	case err != nil || !u.IsAbs() || (u.Host == "" && u.Opaque == ""):
		return "must be an absolute URI, like https://api.example.com"
	case u.Fragment != "" || u.RawFragment != "" || len(r) > 0 && r[len(r)-1] == '#':
		return "must not have a fragment (#…)"
	case len(r) > 2048:
		return "must be at most 2048 characters"
	}
	return ""
}

// ParseResources reads the repeatable resource parameter (RFC 8707 §2):
// each value must be an absolute URI without a fragment and listed in
// allowed, else invalid_target. Duplicates are dropped; the order is kept.
func ParseResources(values, allowed []string) ([]string, *Error) {
	if len(values) > maxResources {
		return nil, Errorf(ErrInvalidTarget, "at most %d resource parameters may be sent", maxResources)
	}
	var out []string
	for _, r := range values {
		if r == "" {
			return nil, Errorf(ErrInvalidTarget, "resource must not be empty")
		}
		if msg := ResourceProblem(r); msg != "" {
			return nil, Errorf(ErrInvalidTarget, "resource %s", msg)
		}
		if !slices.Contains(allowed, r) {
			return nil, Errorf(ErrInvalidTarget, "the client may not request a token for this resource")
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}
