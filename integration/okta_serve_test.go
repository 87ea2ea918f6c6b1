//go:build integration

package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/idp/okta/oktatest"
)

// oktaServeEnv prepares `zapgate serve` with directory.type okta against
// the contract server srv (OAuth with private_key_jwt, the CA trusted by
// ca_file), the given directory.cache body, and a policy that gives the
// Okta group okta:backup-proxies the role backup-server (serve and request
// proxy task.*). nodes maps a key name (DIR/NAME.key) to its principal.
func oktaServeEnv(t *testing.T, srv *oktatest.Server, cache string, nodes map[string]string) *serveEnv {
	t.Helper()
	e := newServeEnv(t)
	ca := filepath.Join(e.dir, "okta-ca.pem")
	if err := srv.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(e.dir, "okta-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.RegisterClient("0oazapgate", &key.PublicKey, "", "okta.users.read", "okta.groups.read")
	dir := fmt.Sprintf(`directory:
  type: okta
  okta:
    org_url: %s
    ca_file: %s
    client_id: 0oazapgate
    private_key_file: %s
    timeout: 2s
  cache:
%s`, srv.URL, ca, keyFile, cache)
	useDirectory(t, e, dir, "okta:backup-proxies", nodes)
	return e
}

// TestServeWithOktaDirectory runs `zapgate serve` with directory.type okta
// against the Okta contract server: `zapgate doctor` gets a token and calls
// the API; a node whose Okta group maps to a role relays a command and one
// in no group is refused at the handshake; during an Okta outage (5xx) the
// known node is served from the cache's stale grace (marked in audit) and
// a node never seen gets ZAP 300; after Okta recovers, suspending the
// node's Okta user makes its next request refused within the cache
// lifetime.
func TestServeWithOktaDirectory(t *testing.T) {
	srv := oktatest.New(t)
	const proxy, bob, carol = "proxy01@corp.example.com", "bob@corp.example.com", "carol@corp.example.com"
	srv.AddUser(oktatest.User{Login: proxy, Profile: map[string]any{"displayName": "Proxy 01"}})
	srv.SetGroups(proxy, "backup-proxies", "Everyone")
	srv.AddUser(oktatest.User{Login: bob})
	srv.AddUser(oktatest.User{Login: carol})
	srv.SetGroups(carol, "backup-proxies")
	e := oktaServeEnv(t, srv, "    ttl: 1s\n    negative_ttl: 1s\n    stale_grace: 1m\n    query_timeout: 3s\n",
		map[string]string{"proxy": proxy, "bob": bob, "carol": carol})

	doctor := mustRun(t, "doctor", "--config", e.config)
	if !strings.Contains(doctor, "ok    okta token from "+srv.URL) || !strings.Contains(doctor, "ok    okta GET "+srv.URL+"/api/v1/users?limit=1") {
		t.Errorf("doctor did not check the Okta API:\n%s", doctor)
	}

	out := startServe(t, e)
	requester := relayProxy(t, e, "proxy", "proxy01's request", out)
	expectHandshakeRefused(t, e, "bob", "bob (no group)")

	// Okta outage: every API call answers 503.
	srv.InjectStatus(503, -1)
	before := srv.Count(oktatest.EndpointUser)
	expectStaleRelay(t, e, requester, "proxy", out)
	c := nodeClient(t, e, "carol")
	expectUnanswered(t, c, "unknown principal")
	if srv.Count(oktatest.EndpointUser) == before {
		t.Fatal("the directory was not asked during the outage")
	}

	// Okta recovers; carol (in the group) is eventually let in.
	srv.InjectStatus(0, 0)
	deadline := time.Now().Add(20 * time.Second)
	for {
		rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := c.Request(rctx, "proxy", "task.status")
		rcancel()
		if err == nil {
			break
		}
		if errors.Is(err, client.ErrHandshake) || time.Now().After(deadline) {
			t.Fatalf("after Okta recovered, carol gets %v\n%s", err, out)
		}
	}

	// Suspend proxy01's user: within the cache lifetime its next request
	// is refused.
	srv.SetStatus(proxy, "SUSPENDED")
	took := waitForbidden(t, requester, "after its Okta user was suspended")
	t.Logf("refused %s after the suspension (cache ttl 1s)", took.Round(time.Millisecond))

	expectOutageAudit(t, e, proxy)
}
