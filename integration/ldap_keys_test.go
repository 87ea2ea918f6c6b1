//go:build integration

package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/zapgate/zapgate/broker/client"
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

	cmd, out := e.start(t)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	worker, requester := nodeClient(t, e, "alice"), nodeClient(t, e, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker.Serve(ctx, "proxy", func(_ context.Context, cmd string, _ [][]byte) ([][]byte, error) {
		return [][]byte{[]byte("done " + cmd)}, nil
	})
	if _, err := retryRequest(requester, "proxy", "task.start"); err != nil {
		t.Fatalf("alice with her key in the directory: %v\n%s", err, out)
	}
	bob := nodeClient(t, e, "bob")
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err = bob.Request(rctx, "proxy", "task.start")
	rcancel()
	if !errors.Is(err, client.ErrHandshake) {
		t.Errorf("bob, whose key is nowhere, got %v; want the handshake refused", err)
	}

	del := goldap.NewModifyRequest(aliceDN, nil)
	del.Delete("description", nil)
	if err := c.Modify(del); err != nil {
		t.Fatal(err)
	}
	waitForbidden(t, requester, "after her key was removed")
}
