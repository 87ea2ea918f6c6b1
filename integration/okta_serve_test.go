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
	"syscall"
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
	policy := `version: 1
roles:
  backup-server:
    connect: {}
    serve: [proxy]
    request:
      - {service: proxy, commands: ["task.*"]}
bindings:
  - {group: "okta:backup-proxies", roles: [backup-server]}
`
	os.WriteFile(filepath.Join(e.dir, "policy.yaml"), []byte(policy), 0o644)
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
	cfg, _ := os.ReadFile(e.config)
	cfg = []byte(strings.Replace(string(cfg), "directory:\n  type: static\n  static: {file: "+e.dir+"/directory.yaml}\n", dir, 1))
	if !strings.Contains(string(cfg), "type: okta") {
		t.Fatalf("config not rewritten:\n%s", cfg)
	}
	os.WriteFile(e.config, cfg, 0o644)
	for name, principal := range nodes {
		mustRun(t, "keygen", name, "--dir", e.dir)
		mustRun(t, "keys", "add", filepath.Join(e.dir, name+".key"), "--principal", principal, "--registry", filepath.Join(e.dir, "keys"))
	}
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

	cmd, out := e.start(t)
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	worker, requester := nodeClient(t, e, "proxy"), nodeClient(t, e, "proxy")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker.Serve(ctx, "proxy", func(_ context.Context, cmd string, _ [][]byte) ([][]byte, error) {
		return [][]byte{[]byte("done " + cmd)}, nil
	})
	reply, err := retryRequest(requester, "proxy", "task.start")
	if err != nil || len(reply) != 1 || string(reply[0]) != "done task.start" {
		t.Fatalf("proxy01's request: %q %v\n%s", reply, err, out)
	}

	b := nodeClient(t, e, "bob")
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err = b.Request(rctx, "proxy", "task.start")
	rcancel()
	if !errors.Is(err, client.ErrHandshake) {
		t.Errorf("bob (no group) got %v, want the handshake refused", err)
	}

	// Okta outage: every API call answers 503.
	srv.InjectStatus(503, -1)
	before := srv.Count(oktatest.EndpointUser)
	time.Sleep(1200 * time.Millisecond) // past the 1s TTL: answers now come from the stale grace
	if _, err := retryRequest(requester, "proxy", "task.status"); err != nil {
		t.Fatalf("known principal during the outage: %v\n%s", err, out)
	}
	again := nodeClient(t, e, "proxy")
	if _, err := retryRequest(again, "proxy", "task.status"); err != nil {
		t.Fatalf("known principal reconnecting during the outage: %v", err)
	}
	c := nodeClient(t, e, "carol")
	rctx, rcancel = context.WithTimeout(context.Background(), 3*time.Second)
	_, err = c.Request(rctx, "proxy", "task.status")
	rcancel()
	if err == nil || errors.Is(err, client.ErrHandshake) {
		t.Fatalf("unknown principal during the outage got %v; want no answer (ZAP 300, retrying), not a grant or a 400", err)
	}
	if srv.Count(oktatest.EndpointUser) == before {
		t.Fatal("the directory was not asked during the outage")
	}

	// Okta recovers; carol (in the group) is eventually let in.
	srv.InjectStatus(0, 0)
	deadline := time.Now().Add(20 * time.Second)
	for {
		rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = c.Request(rctx, "proxy", "task.status")
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

	audit := mustRun(t, "audit", "export", "--action", "authn.connect", "--format", "jsonl", filepath.Join(e.dir, "audit"))
	var stale, unavailable bool
	for _, line := range strings.Split(audit, "\n") {
		if strings.Contains(line, `"user.name":"`+proxy+`"`) && strings.Contains(line, `"zapgate.stale":true`) && strings.Contains(line, `"event.outcome":"success"`) {
			stale = true
		}
		if strings.Contains(line, `"event.reason":"directory-unavailable"`) && strings.Contains(line, `"event.outcome":"failure"`) {
			unavailable = true
		}
	}
	if !stale || !unavailable {
		t.Errorf("audit lacks a stale grant (%v) or a directory-unavailable refusal (%v):\n%s", stale, unavailable, audit)
	}
}
