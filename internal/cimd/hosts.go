package cimd

import (
	"fmt"
	"strings"
)

// Hosts is the operator's policy on the hosts of client_id URLs. A host is
// allowed when Allow is empty or names it, and Deny does not. Entries are
// exact host names ("app.example.com") or a wildcard for the subdomains of
// a domain ("*.example.com", which does not match example.com itself).
// Comparison ignores case; ports are not part of a host.
type Hosts struct {
	Allow []string
	Deny  []string
}

// Allowed reports whether host may publish client metadata documents.
func (h Hosts) Allowed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, p := range h.Deny {
		if hostMatches(p, host) {
			return false
		}
	}
	if len(h.Allow) == 0 {
		return true
	}
	for _, p := range h.Allow {
		if hostMatches(p, host) {
			return true
		}
	}
	return false
}

// hostMatches compares host with one pattern of Hosts.
func hostMatches(pattern, host string) bool {
	pattern = strings.ToLower(pattern)
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return host == pattern
}

// CheckHostPattern says why p cannot be an entry of Hosts, or returns nil:
// a host name, optionally behind "*.", without scheme, port, path or any
// other wildcard.
func CheckHostPattern(p string) error {
	name := strings.TrimPrefix(p, "*.")
	if name == "" || strings.ContainsAny(name, "*/:@ ?#[]") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
		return fmt.Errorf("%q is not a host name or *.domain", p)
	}
	return nil
}
