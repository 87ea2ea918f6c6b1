package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// parseSourcePrefix parses an entry of a from: list: a CIDR prefix
// ("10.20.0.0/16", "2001:db8::/32") or a single address (a /32 or /128).
// IPv4-mapped IPv6 prefixes ("::ffff:10.0.0.0/104") become IPv4 prefixes.
// A prefix with host bits set ("10.20.1.0/16") is refused, since it is
// usually a typo for a narrower or a different network.
func parseSourcePrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, fmt.Errorf("invalid CIDR prefix %q", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, fmt.Errorf("invalid address or CIDR prefix %q", s)
		}
		if a.Zone() != "" {
			return p, fmt.Errorf("%q: zoned addresses are not allowed", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return p, fmt.Errorf("%q: an IPv4-mapped prefix must be /96 or longer", s)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return p, fmt.Errorf("%q has host bits set; did you mean %s?", s, m)
	}
	return p, nil
}

// parseSourceAddr parses a test's action source: one address, IPv4-mapped
// addresses unmapped.
func parseSourceAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, errors.New("invalid IP address " + fmt.Sprintf("%q", s))
	}
	return normSource(a), nil
}

// containsSource reports whether any prefix contains a (already
// normalised by normSource).
func containsSource(from []netip.Prefix, a netip.Addr) bool {
	for _, p := range from {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
