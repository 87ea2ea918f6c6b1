//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/zapgate/zapgate/certs"
)

// TestServeKeysInDirectory runs `zapgate serve` with keys.source directory
// against slapd: alice's CURVE key is stored on her LDAP entry (in
// description, as OpenLDAP has no altSecurityIdentities), so she connects
// and relays without any registry file; removing the value revokes her
// within the cache lifetime.
func TestServeKeysInDirectory(t *testing.T) {
	s := startSlapd(t)
	e, _ := ldapServeEnv(t, s, "    ttl: 1s\n    negative_ttl: 1s\n")
	cfg, _ := os.ReadFile(e.config)
	text := strings.Replace(string(cfg), "keys:\n", "keys:\n  source: directory\n", 1)
	text = strings.Replace(text, "    flavour: generic\n", "    flavour: generic\n    key_attribute: description\n    principal_attr: uid\n", 1)
	os.WriteFile(e.config, []byte(text), 0o644)
	// No registry binding: remove the files ldapServeEnv added.
	os.RemoveAll(filepath.Join(e.dir, "keys"))

	alice, err := certs.LoadPublic(filepath.Join(e.dir, "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := goldap.DialURL(s.ldapURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(ldapRootDN, ldapRootPW); err != nil {
		t.Fatal(err)
	}
	aliceDN := "uid=alice,ou=people," + ldapBase
	mod := goldap.NewModifyRequest(aliceDN, nil)
	mod.Replace("description", []string{"CURVE:" + alice.Public.String()})
	if err := c.Modify(mod); err != nil {
		t.Fatal(err)
	}

	out := startServe(t, e)
	requester := relayProxy(t, e, "alice", "alice with her key in the directory", out)
	expectHandshakeRefused(t, e, "bob", "bob, whose key is nowhere,")

	del := goldap.NewModifyRequest(aliceDN, nil)
	del.Delete("description", nil)
	if err := c.Modify(del); err != nil {
		t.Fatal(err)
	}
	waitForbidden(t, requester, "after her key was removed")
}
