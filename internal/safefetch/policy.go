package safefetch

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// refusedPrefixes are the ranges no fetch may reach besides those netip
// already names (loopback, private, link-local, multicast, unspecified):
// the special-purpose registries of RFC 6890 and their IPv6 cousins.
func refusedPrefixes() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network" (RFC 791); 0.0.0.0 reaches the host itself
		netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (RFC 6598)
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments (RFC 6890)
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation (RFC 5737)
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking (RFC 2544)
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255 broadcast
		netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated, RFC 4291 §2.5.5.1)
		netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64 (RFC 8215)
		netip.MustParsePrefix("100::/64"),        // discard-only (RFC 6666)
		netip.MustParsePrefix("2001::/32"),       // Teredo: hides an IPv4 address
		netip.MustParsePrefix("2001:2::/48"),     // benchmarking
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated, RFC 3879)
	}
}

// checkAddr reports whether ip may be dialed: nil, or an error wrapping
// ErrForbiddenAddress. Loopback is allowed only when allowLoopback is set;
// nothing else on the list ever is.
func checkAddr(ip netip.Addr, allowLoopback bool) error {
	ip = ip.Unmap() // ::ffff:169.254.169.254 is 169.254.169.254
	if !ip.IsValid() {
		return fmt.Errorf("%w: not an IP address", ErrForbiddenAddress)
	}
	if ip.Zone() != "" {
		return fmt.Errorf("%w: %s has a zone", ErrForbiddenAddress, ip)
	}
	if ip.IsLoopback() {
		if allowLoopback {
			return nil
		}
		return fmt.Errorf("%w: %s is loopback", ErrForbiddenAddress, ip)
	}
	switch {
	case ip.IsUnspecified():
		return fmt.Errorf("%w: %s is unspecified", ErrForbiddenAddress, ip)
	case ip.IsPrivate():
		return fmt.Errorf("%w: %s is private", ErrForbiddenAddress, ip)
	case ip.IsLinkLocalUnicast():
		return fmt.Errorf("%w: %s is link-local", ErrForbiddenAddress, ip)
	case ip.IsMulticast():
		return fmt.Errorf("%w: %s is multicast", ErrForbiddenAddress, ip)
	}
	for _, p := range refusedPrefixes() {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in %s", ErrForbiddenAddress, ip, p)
		}
	}
	if inner, ok := embeddedIPv4(ip); ok {
		if err := checkAddr(inner, false); err != nil {
			return fmt.Errorf("%w: %s translates to %s", ErrForbiddenAddress, ip, inner)
		}
	}
	return nil
}

// embeddedIPv4 returns the IPv4 address that a NAT64 (RFC 6052: the last
// 32 bits) or 6to4 (RFC 3056: bits 16-48) address makes a translator
// reach for us; that address must pass the policy too.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case netip.MustParsePrefix("64:ff9b::/96").Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case netip.MustParsePrefix("2002::/16").Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// control is the net.Dialer's Control function: it runs after DNS
// resolution, for the very address about to be connected, on every
// connection of every redirect hop. Checking here rather than before
// resolving defeats DNS rebinding (the name resolving to a public address
// for a check and to 169.254.169.254 for the connection).
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %q", ErrForbiddenAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address and port", ErrForbiddenAddress, address)
	}
	if c.exempt != nil && c.exempt(ap) {
		return nil
	}
	return checkAddr(ap.Addr(), c.opts.AllowLoopback)
}

// checkURL applies the rules that do not need DNS: https (or http to a
// loopback host when AllowLoopback is set), a host, no userinfo.
func (c *Client) checkURL(u *url.URL) error {
	if u.User != nil {
		return fmt.Errorf("%w: userinfo is not allowed", ErrForbiddenURL)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: no host", ErrForbiddenURL)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if c.opts.AllowLoopback && isLoopbackHost(host) {
			return nil
		}
		return fmt.Errorf("%w: http is allowed only to a loopback host in development", ErrForbiddenURL)
	}
	return fmt.Errorf("%w: scheme %q (https only)", ErrForbiddenURL, u.Scheme)
}

// isLoopbackHost reports whether host is localhost or a loopback literal.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckAddress reports whether a Client with AllowLoopback set as given
// would dial ip: nil, or an error wrapping ErrForbiddenAddress. It lets
// configuration validation refuse a URL whose host is an IP literal the
// guard will never reach, before any fetch.
func CheckAddress(ip netip.Addr, allowLoopback bool) error {
	return checkAddr(ip, allowLoopback)
}
