package ldap

import (
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// fillFilter replaces every %s in tmpl with value, which must already be
// escaped. strings.ReplaceAll (not Sprintf) so templates may use %s any
// number of times and no other verb is interpreted.
func fillFilter(tmpl, value string) string {
	return strings.ReplaceAll(tmpl, "%s", value)
}

// principalFilter builds the search filter for a principal name, escaping
// it with ldap.EscapeFilter (security invariant 7).
func principalFilter(tmpl, principal string) string {
	return fillFilter(tmpl, goldap.EscapeFilter(principal))
}

// inChainFilter finds every group that contains dn, directly or through
// nested groups (AD's LDAP_MATCHING_RULE_IN_CHAIN).
func inChainFilter(dn string) string {
	return "(member:1.2.840.113556.1.4.1941:=" + goldap.EscapeFilter(dn) + ")"
}

// escapeBytes hex-escapes every byte of a binary assertion value (for
// objectSid filters).
func escapeBytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, "\\%02x", c)
	}
	return sb.String()
}

// sidFilter matches any of the given binary SIDs.
func sidFilter(sids [][]byte) string {
	var sb strings.Builder
	sb.WriteString("(|")
	for _, s := range sids {
		sb.WriteString("(objectSid=" + escapeBytes(s) + ")")
	}
	sb.WriteString(")")
	return sb.String()
}

// looksLikeDN reports whether principal should be looked up as a DN: it
// parses as a DN and contains an attribute=value pair. sAMAccountName
// cannot contain '=', so AD names are never mistaken for DNs.
func looksLikeDN(principal string) bool {
	if !strings.Contains(principal, "=") {
		return false
	}
	dn, err := goldap.ParseDN(principal)
	return err == nil && len(dn.RDNs) > 0
}
