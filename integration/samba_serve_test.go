//go:build integration

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	zldap "github.com/zapgate/zapgate/idp/ldap"
)

// adOps is the group the Samba serve tests map to a role. PROXY01$ and
// alice are members only through Backup Servers (Ops ∋ Backup Servers).
const adOps = "CN=Ops," + adGroups

// sambaServeEnv prepares `zapgate serve` with directory.type ldap against
// the Samba DC s (flavour ad, group mode mode, over LDAPS as the service
// account) with the given cache settings and a policy that gives group the
// role backup-server. Keys: proxy01 for PROXY01$, alice, and dave (in no
// group).
func sambaServeEnv(t *testing.T, s *sambaDC, mode, cache, group string) *serveEnv {
	t.Helper()
	ldap := fmt.Sprintf(`    urls: ["ldaps://%s"]
    ca_file: %q
    bind_dn: %q
    base_dn: %q
    group_base: %q
    flavour: ad
    group_mode: %s
    timeout: 2s
`, adLDAPSAddr, s.caFile, adSvcDN, adBase, adGroups, mode)
	return directoryServeEnv(t, ldap, adSvcPW, cache, group,
		map[string]string{"proxy01": "PROXY01$", "alice": "alice", "dave": "dave"})
}

// TestSambaServe runs `zapgate serve` against a real Samba AD DC with the
// policy binding a group the node is in only by nesting (PROXY01$ ∈ Backup
// Servers ∈ Ops, Ops → backup-server): the node is accepted and relays
// commands; a principal in no group is refused at the handshake; removing
// the node from the inner group over LDAP refuses its next request within
// the cache lifetime, and a new connection of it at the handshake.
func TestSambaServe(t *testing.T) {
	start := time.Now()
	s := startSamba(t)
	t.Logf("samba provisioned, started and seeded in %s", time.Since(start).Round(time.Millisecond))
	admin := s.adminConn(t)
	backup := "CN=Backup Servers," + adGroups
	member := func(t *testing.T, op string) {
		t.Helper()
		m := goldap.NewModifyRequest(backup, nil)
		if op == "add" {
			m.Add("member", []string{s.proxyDN})
		} else {
			m.Delete("member", []string{s.proxyDN})
		}
		if err := admin.Modify(m); err != nil {
			t.Fatalf("%s PROXY01$ as member of %s: %v", op, backup, err)
		}
	}

	for i, mode := range []string{zldap.GroupsInChain, zldap.GroupsTokenGroups} {
		t.Run(mode, func(t *testing.T) {
			e := sambaServeEnv(t, s, mode, "    ttl: 1s\n    negative_ttl: 1s\n", adOps)
			if i == 0 {
				doctor := mustRun(t, "doctor", "--config", e.config)
				if !strings.Contains(doctor, "ok    ldap ldaps://"+adLDAPSAddr) {
					t.Errorf("doctor did not bind to samba:\n%s", doctor)
				}
			}
			out := startServe(t, e)
			requester := relayProxy(t, e, "proxy01", "PROXY01$'s request", out)
			expectHandshakeRefused(t, e, "dave", "dave (no group)")

			// Out of Backup Servers, PROXY01$ is no longer in Ops either.
			member(t, "delete")
			defer member(t, "add")
			took := waitForbidden(t, requester, "after PROXY01$ left Backup Servers")
			t.Logf("refused %s after the group change (cache ttl 1s)", took.Round(time.Millisecond))

			expectHandshakeRefused(t, e, "proxy01", "a new connection of PROXY01$ out of its group")
		})
	}
	t.Logf("TestSambaServe took %s", time.Since(start).Round(time.Millisecond))
}
