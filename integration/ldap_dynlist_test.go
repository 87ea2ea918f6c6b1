//go:build integration

package integration

import (
	"slices"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	zldap "github.com/zapgate/zapgate/idp/ldap"
)

// TestLDAPDynamicGroups checks the generic flavour against slapd's dynlist
// dynamic groups (groupOfURLs, memberURL): group_mode memberof reports a
// dynamic group for a matching principal only, and follows a change of the
// principal's attribute at the next lookup; group_mode walk does not see
// dynamic groups, for the reason shown here and documented in
// docs/active-directory.md.
func TestLDAPDynamicGroups(t *testing.T) {
	s := startSlapd(t)
	admin := func(t *testing.T) *goldap.Conn {
		t.Helper()
		c, err := goldap.DialURL(s.ldapURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Bind(ldapRootDN, ldapRootPW); err != nil {
			t.Fatal(err)
		}
		return c
	}
	groupsOf := func(t *testing.T, d *zldap.Directory, principal string) []string {
		t.Helper()
		id, err := lookup(t, d, principal)
		if err != nil {
			t.Fatalf("lookup %s: %v", principal, err)
		}
		return groupCNs(id)
	}

	t.Run("memberof sees dynamic groups", func(t *testing.T) {
		// zldap.Directory has no cache (idp/cache adds one), so every
		// Lookup reads the directory.
		d := newDir(t, s.config())
		if got := groupsOf(t, d, "carol"); !slices.Equal(got, []string{"proxies"}) {
			t.Fatalf("carol: groups = %v, want [proxies]", got)
		}
		if got := groupsOf(t, d, "dave"); len(got) != 0 {
			t.Fatalf("dave: groups = %v, want none", got)
		}
		// Static memberOf (memberof overlay) is still there beside the
		// dynamic one (dynlist).
		if got := groupsOf(t, d, "alice"); !slices.Equal(got, []string{"backup-servers", "cycle-a"}) {
			t.Fatalf("alice: groups = %v", got)
		}

		// Membership follows the attribute: dave becomes a proxy,
		// carol stops being one.
		c := admin(t)
		setType := func(uid, typ string) {
			t.Helper()
			m := goldap.NewModifyRequest("uid="+uid+",ou=people,"+ldapBase, nil)
			m.Replace("employeeType", []string{typ})
			if err := c.Modify(m); err != nil {
				t.Fatal(err)
			}
		}
		setType("dave", "proxy")
		setType("carol", "staff")
		t.Cleanup(func() { setType("dave", "staff"); setType("carol", "proxy") })
		if got := groupsOf(t, d, "dave"); !slices.Equal(got, []string{"proxies"}) {
			t.Fatalf("dave after the change: groups = %v, want [proxies]", got)
		}
		if got := groupsOf(t, d, "carol"); len(got) != 0 {
			t.Fatalf("carol after the change: groups = %v, want none", got)
		}
	})

	t.Run("walk does not see dynamic groups", func(t *testing.T) {
		cfg := s.config()
		cfg.GroupMode = zldap.GroupsWalk
		d := newDir(t, cfg)
		if got := groupsOf(t, d, "carol"); len(got) != 0 {
			t.Fatalf("carol: walk groups = %v; if slapd now returns dynamic groups to paged searches, update the generic LDAP section of docs/active-directory.md", got)
		}

		// Why: the walk's search (member=DN) under group_base uses the
		// paged results control. mdb matches the filter against stored
		// values, and a dynamic group stores no member; dynlist adds the
		// dynamic groups that match only at the end of a search, and
		// skips that step when the search is paged. The same search,
		// as the same bind DN, finds the group without paging.
		c, err := goldap.DialURL(s.ldapURL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(ldapSvcDN, ldapSvcPW); err != nil {
			t.Fatal(err)
		}
		filter := "(|(member=uid=carol,ou=people," + ldapBase + ")(uniqueMember=uid=carol,ou=people," + ldapBase + "))"
		req := func() *goldap.SearchRequest {
			return goldap.NewSearchRequest("ou=groups,"+ldapBase, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
				0, 0, false, filter, []string{"1.1"}, nil)
		}
		dns := func(res *goldap.SearchResult) []string {
			var out []string
			for _, e := range res.Entries {
				out = append(out, e.DN)
			}
			return out
		}
		plain, err := c.Search(req())
		if err != nil {
			t.Fatal(err)
		}
		if got := dns(plain); !slices.Equal(got, []string{ldapDynGroupDN}) {
			t.Fatalf("unpaged search: %v, want [%s]", got, ldapDynGroupDN)
		}
		paged, err := c.SearchWithPaging(req(), 500)
		if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultReferral) {
			t.Fatal(err)
		}
		if got := dns(paged); len(got) != 0 {
			t.Fatalf("paged search: %v, want none (dynlist skips paged searches)", got)
		}
		// The group itself expands for the service account.
		res, err := c.Search(goldap.NewSearchRequest(ldapDynGroupDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
			0, 0, false, "(objectClass=*)", []string{"member"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("reading %s: %v", ldapDynGroupDN, err)
		}
		if got := res.Entries[0].GetAttributeValues("member"); !slices.Equal(got, []string{"uid=carol,ou=people," + ldapBase}) {
			t.Fatalf("member of %s = %v", ldapDynGroupDN, got)
		}
	})
}
