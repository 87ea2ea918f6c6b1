package ldap

import (
	"context"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
)

var _ idp.KeyFinder = (*Directory)(nil)

// FindByKey implements key-in-directory mode: it finds the one account
// whose KeyAttribute holds KeyPrefix followed by the Z85 form of key, and
// returns the account's PrincipalAttr (its DN when that attribute is
// absent). Disabled accounts are found too: the caller's Lookup decides
// whether the principal is enabled.
//
// The search is done under BaseDN with the escaped value. Because AD
// compares altSecurityIdentities case-insensitively and Z85 is
// case-sensitive, the values returned are compared exactly before an entry
// counts as a match. No account: an error wrapping idp.ErrNotFound; more
// than one account, or any technical failure: an error wrapping
// idp.ErrUnavailable.
func (d *Directory) FindByKey(ctx context.Context, key [32]byte) (string, error) {
	z85 := certs.PublicKey(key).String()
	want := d.cfg.KeyPrefix + z85
	var principal string
	err := d.withConn(ctx, "find key "+z85, func(pc *pconn) error {
		var err error
		principal, err = d.findByKey(pc, want)
		return err
	})
	if err != nil {
		return "", err
	}
	return principal, nil
}

// keyFilter matches entries whose key attribute equals value (escaped).
func keyFilter(attr, value string) string {
	return "(" + attr + "=" + goldap.EscapeFilter(value) + ")"
}

// findByKey runs FindByKey's search on one connection.
func (d *Directory) findByKey(pc *pconn, want string) (string, error) {
	filter := keyFilter(d.cfg.KeyAttribute, want)
	if d.cfg.Flavour == FlavourAD {
		filter = "(&" + d.accountFilter() + filter + ")"
	}
	req := goldap.NewSearchRequest(d.cfg.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, d.timeLimit(), false, filter, []string{d.cfg.PrincipalAttr, d.cfg.KeyAttribute}, nil)
	res, err := d.search(pc, req, false)
	if err != nil && !(goldap.IsErrorWithCode(err, goldap.LDAPResultReferral) && res != nil) {
		return "", fmt.Errorf("ldap: search %s for %s at %s: %w", d.cfg.BaseDN, filter, pc.url, err)
	}
	return d.pickKeyMatch(res.Entries, want)
}

// pickKeyMatch returns the principal of the one entry whose key attribute
// holds want exactly (the server may have matched case-insensitively).
func (d *Directory) pickKeyMatch(entries []*goldap.Entry, want string) (string, error) {
	var matches []*goldap.Entry
	for _, e := range entries {
		if hasExact(e.GetEqualFoldAttributeValues(d.cfg.KeyAttribute), want) {
			matches = append(matches, e)
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("ldap: no account under %s has %s %s: %w", d.cfg.BaseDN, d.cfg.KeyAttribute, want, idp.ErrNotFound)
	case 1:
		e := matches[0]
		if p := first(e.GetEqualFoldAttributeValues(d.cfg.PrincipalAttr)); p != "" {
			return p, nil
		}
		return e.DN, nil
	default:
		dns := make([]string, len(matches))
		for i, e := range matches {
			dns[i] = e.DN
		}
		return "", fmt.Errorf("ldap: %d accounts under %s have %s %s (%q); expected exactly one", len(matches), d.cfg.BaseDN, d.cfg.KeyAttribute, want, dns)
	}
}

// hasExact reports whether values contains want, compared byte for byte.
func hasExact(values []string, want string) bool {
	for _, v := range values {
		if v == want {
			return true
		}
	}
	return false
}
