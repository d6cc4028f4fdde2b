package clientmeta

import (
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/safefetch"
)

// RedirectRules are the redirect URI forms a policy allows (S198). Every
// form refuses fragments, wildcards and userinfo; the zero value allows
// none.
type RedirectRules struct {
	// HTTPS allows https URIs with a host.
	HTTPS bool
	// Loopback allows http on 127.0.0.1, [::1] or localhost, any port
	// (RFC 8252 §7.3, §8.3).
	Loopback bool
	// PrivateSchemes allows reverse-DNS private-use schemes such as
	// com.example.app:/callback (RFC 8252 §7.1).
	PrivateSchemes bool
}

// AnyRedirect allows every form a native or web client may use.
func AnyRedirect() RedirectRules {
	return RedirectRules{HTTPS: true, Loopback: true, PrivateSchemes: true}
}

// check says why s is not a redirect URI these rules allow, or nil.
func (r RedirectRules) check(s string) error {
	shown := truncate(s, 200)
	switch {
	case s == "" || len(s) > maxURILen:
		return badRedirect("a redirect URI must be 1 to %d characters", maxURILen)
	case strings.Contains(s, "#"):
		return badRedirect("redirect URI '%s' must not have a fragment (RFC 6749 section 3.1.2)", shown)
	case strings.Contains(s, "*"):
		return badRedirect("redirect URI '%s' must not contain a wildcard; register every URI in full", shown)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || !u.IsAbs() {
		return badRedirect("redirect URI '%s' must be an absolute URI", shown)
	}
	if u.User != nil {
		return badRedirect("redirect URI '%s' must not carry userinfo", shown)
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
		if !r.HTTPS {
			return badRedirect("redirect URI '%s': https redirect URIs are not allowed here; use a loopback http URI", shown)
		}
		if u.Hostname() == "" {
			return badRedirect("redirect URI '%s' needs a host", shown)
		}
	case scheme == "http":
		if !r.Loopback || !isLoopbackHost(u.Hostname()) {
			return badRedirect("redirect URI '%s': http is allowed only for 127.0.0.1, [::1] or localhost (RFC 8252 section 7.3)", shown)
		}
	case isReverseDNS(scheme):
		if !r.PrivateSchemes {
			return badRedirect("redirect URI '%s': private-use schemes are not allowed here", shown)
		}
		if u.Host != "" {
			return badRedirect("redirect URI '%s': a private-use scheme URI has no authority; write %s:/path (RFC 8252 section 7.1)", shown, u.Scheme)
		}
	default:
		return badRedirect("redirect URI '%s': scheme '%s' is not allowed; use https, loopback http, or a reverse-DNS scheme like com.example.app", shown, truncate(u.Scheme, 40))
	}
	return nil
}

// isReverseDNS reports whether scheme reads as a reversed domain name
// (RFC 8252 §7.1): at least two non-empty labels of letters, digits and
// hyphens.
func isReverseDNS(scheme string) bool {
	labels := strings.Split(scheme, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return false
		}
	}
	return true
}

// isLoopbackHost reports whether host is localhost or a loopback literal.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkJWKSURI refuses a jwks_uri the SSRF guard would never fetch (A25):
// anything but https (or loopback http when allowed), userinfo, and a
// host that is an address the guard refuses or localhost. A name that
// resolves to such an address is refused when dialed, by safefetch.
func checkJWKSURI(s string, allowLoopback bool) error {
	shown := truncate(s, 200)
	u, err := url.Parse(s)
	if err != nil || len(s) > maxURILen || u.Hostname() == "" {
		return invalid("jwks_uri '%s' must be an absolute https URL", shown)
	}
	if u.User != nil || u.Fragment != "" {
		return invalid("jwks_uri '%s' must not carry userinfo or a fragment", shown)
	}
	host := u.Hostname()
	loopback := isLoopbackHost(host)
	switch {
	case u.Scheme == "http" && allowLoopback && loopback:
	case u.Scheme != "https":
		return invalid("jwks_uri '%s' must use https", shown)
	}
	if strings.EqualFold(host, "localhost") && !allowLoopback {
		return invalid("jwks_uri '%s' names this host; use a public https URL", shown)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := safefetch.CheckAddress(ip, allowLoopback); err != nil {
			return invalid("jwks_uri '%s' is at an address the server never fetches from: %v", shown, err)
		}
	}
	return nil
}

// checkInfoURIs checks the URLs a client asserts about itself (client_uri,
// logo_uri, policy_uri, tos_uri): http or https with a host, no userinfo.
// They are shown as text and never fetched (S202), so no address rule
// applies, but no javascript:, data: or file: URL is ever stored.
func checkInfoURIs(m *Metadata, _ Policy) error {
	for _, f := range []struct{ name, value string }{
		{"client_uri", m.ClientURI}, {"logo_uri", m.LogoURI},
		{"policy_uri", m.PolicyURI}, {"tos_uri", m.TOSURI},
	} {
		if f.value == "" {
			continue
		}
		u, err := url.Parse(f.value)
		ok := err == nil && len(f.value) <= maxURILen && (u.Scheme == "https" || u.Scheme == "http") &&
			u.Hostname() != "" && u.User == nil
		if !ok {
			return invalid("%s '%s' must be an http or https URL with a host", f.name, truncate(f.value, 200))
		}
	}
	return nil
}

// Host is the host of an asserted URL such as client_uri or logo_uri, for
// showing as text (S155), or "" when it has none.
func Host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
