package ldap

import (
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// sidChunk is how many SIDs one tokenGroups resolution search asks for.
const sidChunk = 64

// groups resolves the groups of entry according to GroupMode.
func (d *Directory) groups(pc *pconn, e *goldap.Entry) ([]string, error) {
	var set dnSet
	switch d.cfg.GroupMode {
	case GroupsMemberOf:
		for _, g := range e.GetEqualFoldAttributeValues("memberOf") {
			set.add(g)
		}
	case GroupsInChain:
		found, err := d.pagedSearch(pc, inChainFilter(e.DN))
		if err != nil {
			return nil, err
		}
		for _, g := range found {
			set.add(g)
		}
	case GroupsTokenGroups:
		if err := d.tokenGroups(pc, e, &set); err != nil {
			return nil, err
		}
	case GroupsWalk:
		if err := d.walk(pc, e.DN, &set); err != nil {
			return nil, err
		}
	}
	return set.list, nil
}

// walk follows member links upwards from dn, breadth first. Every group is
// visited once, so membership cycles end the walk instead of looping.
func (d *Directory) walk(pc *pconn, dn string, set *dnSet) error {
	set.seen(dn) // the principal itself is never its own group
	frontier := []string{dn}
	for depth := 0; len(frontier) > 0; depth++ {
		if depth >= d.cfg.MaxWalkDepth {
			return fmt.Errorf("ldap: groups of %q nest deeper than max_walk_depth %d", dn, d.cfg.MaxWalkDepth)
		}
		var next []string
		for _, member := range frontier {
			found, err := d.pagedSearch(pc, fillFilter(d.cfg.GroupFilter, goldap.EscapeFilter(member)))
			if err != nil {
				return err
			}
			for _, g := range found {
				if set.add(g) {
					next = append(next, g)
				}
			}
		}
		frontier = next
	}
	return nil
}

// tokenGroups resolves the entry's tokenGroups SIDs to group DNs.
func (d *Directory) tokenGroups(pc *pconn, e *goldap.Entry, set *dnSet) error {
	sids := e.GetEqualFoldRawAttributeValues("tokenGroups")
	for _, s := range sids {
		if _, err := parseSID(s); err != nil {
			return fmt.Errorf("ldap: tokenGroups of %q: %w", e.DN, err)
		}
	}
	for len(sids) > 0 {
		n := min(len(sids), sidChunk)
		found, err := d.pagedSearch(pc, sidFilter(sids[:n]))
		if err != nil {
			return err
		}
		for _, g := range found {
			set.add(g)
		}
		sids = sids[n:]
	}
	return nil
}

// pagedSearch returns the DNs of entries under GroupBase matching filter,
// using the paged results control. Continuation references (referrals)
// are ignored.
func (d *Directory) pagedSearch(pc *pconn, filter string) ([]string, error) {
	req := goldap.NewSearchRequest(d.cfg.GroupBase, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, d.timeLimit(), false, filter, []string{"1.1"}, nil)
	res, err := d.search(pc, req, true)
	if err != nil && !(goldap.IsErrorWithCode(err, goldap.LDAPResultReferral) && res != nil) {
		return nil, fmt.Errorf("ldap: group search %s under %s at %s: %w", filter, d.cfg.GroupBase, pc.url, err)
	}
	dns := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	return dns, nil
}

// dnSet is an ordered set of DNs compared case-insensitively after
// normalisation; it keeps each DN as the directory first wrote it.
type dnSet struct {
	keys map[string]bool
	list []string
}

// seen marks dn as present without listing it.
func (s *dnSet) seen(dn string) {
	if s.keys == nil {
		s.keys = map[string]bool{}
	}
	s.keys[dnKey(dn)] = true
}

// add lists dn unless present and reports whether it was new.
func (s *dnSet) add(dn string) bool {
	k := dnKey(dn)
	if s.keys[k] {
		return false
	}
	s.seen(dn)
	s.list = append(s.list, dn)
	return true
}

// dnKey normalises a DN for comparison.
func dnKey(dn string) string {
	if p, err := goldap.ParseDN(dn); err == nil {
		return strings.ToLower(p.String())
	}
	return strings.ToLower(dn)
}
