//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/certs"
)

// ldapServeEnv prepares `zapgate serve` with directory.type ldap against
// slapd s, a policy that gives the LDAP group backup-servers a role, and the
// given cache settings; alice (in the group) and bob (in no group) have keys.
func ldapServeEnv(t *testing.T, s *slapd, cache string) (*serveEnv, string) {
	t.Helper()
	group := "cn=backup-servers,ou=groups," + ldapBase
	ldap := fmt.Sprintf(`    urls: [%s]
    ca_file: %s
    bind_dn: %s
    base_dn: %s
    flavour: generic
    group_mode: memberof
`, s.ldapsURL, s.caFile, ldapSvcDN, ldapBase)
	e := directoryServeEnv(t, ldap, ldapSvcPW, cache, group, map[string]string{"alice": "alice", "bob": "bob"})
	return e, group
}

// directoryServeEnv prepares `zapgate serve` with directory.type ldap: ldap
// is the indented body of directory.ldap (without the password, which is
// written to a file and added as bind_password_file), cache that of
// directory.cache. The policy gives group the role backup-server (serve
// and request proxy task.*). nodes maps a key name (DIR/NAME.key) to the
// principal registered for it.
func directoryServeEnv(t *testing.T, ldap, password, cache, group string, nodes map[string]string) *serveEnv {
	t.Helper()
	e := newServeEnv(t)
	pwFile := filepath.Join(e.dir, "ldap-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	useDirectory(t, e, "directory:\n  type: ldap\n  ldap:\n"+ldap+"    bind_password_file: "+pwFile+"\n  cache:\n"+cache, group, nodes)
	return e
}

// useDirectory points the config of e at the directory section (YAML from
// "directory:" on) in place of the static directory file, writes a policy
// that gives group the role backup-server (serve and request proxy
// task.*), and creates and registers a key DIR/NAME.key for each name in
// nodes with its principal.
func useDirectory(t *testing.T, e *serveEnv, section, group string, nodes map[string]string) {
	t.Helper()
	policy := fmt.Sprintf(`version: 1
roles:
  backup-server:
    connect: {}
    serve: [proxy]
    request:
      - {service: proxy, commands: ["task.*"]}
bindings:
  - {group: %q, roles: [backup-server]}
`, group)
	os.WriteFile(filepath.Join(e.dir, "policy.yaml"), []byte(policy), 0o644)
	cfg, _ := os.ReadFile(e.config)
	cfg = []byte(strings.Replace(string(cfg), "directory:\n  type: static\n  static: {file: "+e.dir+"/directory.yaml}\n", section, 1))
	if !strings.Contains(string(cfg), section) {
		t.Fatalf("config not rewritten:\n%s", cfg)
	}
	os.WriteFile(e.config, cfg, 0o644)
	for name, principal := range nodes {
		mustRun(t, "keygen", name, "--dir", e.dir)
		mustRun(t, "keys", "add", filepath.Join(e.dir, name+".key"), "--principal", principal, "--registry", filepath.Join(e.dir, "keys"))
	}
}

// TestServeWithLDAPDirectory runs `zapgate serve` with directory.type ldap
// against a real slapd: a principal whose LDAP group maps to a role relays
// commands; one without a role is refused at the handshake; removing the
// principal from its group makes its next request refused within the
// cache lifetime. `zapgate doctor` binds to the server first.
func TestServeWithLDAPDirectory(t *testing.T) {
	s := startSlapd(t)
	e, group := ldapServeEnv(t, s, "    ttl: 1s\n    negative_ttl: 1s\n")
	doctor := mustRun(t, "doctor", "--config", e.config, "--principal", "alice")
	if !strings.Contains(doctor, "ok    ldap "+s.ldapsURL) {
		t.Errorf("doctor did not bind to slapd:\n%s", doctor)
	}
	if !strings.Contains(doctor, `ok    directory ldap: principal "alice" found, enabled`) {
		t.Errorf("doctor did not find the test principal:\n%s", doctor)
	}
	if out, err := run(t, "doctor", "--config", e.config, "--principal", "nobody"); err == nil ||
		!strings.Contains(out, `FAIL  directory ldap: principal "nobody": not found`) {
		t.Errorf("doctor accepted a principal the filter cannot find (%v):\n%s", err, out)
	}

	out := startServe(t, e)
	requester := relayProxy(t, e, "alice", "alice's request", out)
	expectHandshakeRefused(t, e, "bob", "bob (no group)")
	_, metrics := e.get("/metrics")
	for _, m := range []string{"zapgate_directory_queries_total", "zapgate_directory_cache_hits_total", "zapgate_directory_query_seconds_max"} {
		if !regexp.MustCompile(`(?m)^`+m+` [1-9.]`).MatchString(metrics) && !regexp.MustCompile(`(?m)^`+m+` 0\.0*[1-9]`).MatchString(metrics) {
			t.Errorf("metric %s missing or zero:\n%s", m, metrics)
		}
	}

	// Remove alice from the group: within the cache lifetime (1s) her next
	// request is refused.
	c, err := goldap.DialURL(s.ldapURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(ldapRootDN, ldapRootPW); err != nil {
		t.Fatal(err)
	}
	mod := goldap.NewModifyRequest(group, nil)
	mod.Add("member", []string{ldapSvcDN}) // groupOfNames needs one member
	mod.Delete("member", []string{"uid=alice,ou=people," + ldapBase})
	if err := c.Modify(mod); err != nil {
		t.Fatal(err)
	}
	took := waitForbidden(t, requester, "after leaving her group")
	t.Logf("refused %s after the group change (cache ttl 1s)", took.Round(time.Millisecond))
}

// waitForbidden repeats a request until the broker refuses it as forbidden
// and returns how long that took; it fails the test after 5 s.
func waitForbidden(t *testing.T, c *client.Client, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Request(ctx, "proxy", "task.start")
		cancel()
		if errors.Is(err, client.ErrForbidden) {
			return time.Since(start)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("still relayed %s %s (last: %v)", time.Since(start), what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startServe starts `zapgate serve` for e and returns its output. A
// cleanup stops it with SIGTERM and waits for it; since cleanups run last
// registered first, the clients a test connects after startServe are
// closed while the broker still runs.
func startServe(t *testing.T, e *serveEnv) *strings.Builder {
	t.Helper()
	cmd, out := e.start(t)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	return out
}

// relayProxy connects two clients with DIR/NAME.key_secret: a worker that
// serves proxy and answers every command CMD with "done CMD" (stopped and
// closed in cleanups), and a requester, which it returns once its
// task.start (retried while the worker registers) has been relayed with
// the reply "done task.start". Otherwise it fails the test with what and
// the broker output out.
func relayProxy(t *testing.T, e *serveEnv, name, what string, out fmt.Stringer) *client.Client {
	t.Helper()
	worker, requester := nodeClient(t, e, name), nodeClient(t, e, name)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // before the worker's Close, which waits for Serve
	go worker.Serve(ctx, "proxy", func(_ context.Context, cmd string, _ [][]byte) ([][]byte, error) {
		return [][]byte{[]byte("done " + cmd)}, nil
	})
	reply, err := retryRequest(requester, "proxy", "task.start")
	if err != nil || len(reply) != 1 || string(reply[0]) != "done task.start" {
		t.Fatalf("%s: %q %v\n%s", what, reply, err, out)
	}
	return requester
}

// expectHandshakeRefused connects a client with DIR/NAME.key_secret and
// fails the test unless its task.start ends, within 5 s, in a refused
// handshake (ZAP 400); who names the node in the message.
func expectHandshakeRefused(t *testing.T, e *serveEnv, name, who string) {
	t.Helper()
	c := nodeClient(t, e, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Request(ctx, "proxy", "task.start"); !errors.Is(err, client.ErrHandshake) {
		t.Errorf("%s got %v, want the handshake refused", who, err)
	}
}

// expectStaleRelay is called right after the directory went down: it
// waits past the 1 s cache TTL, so that answers come from the stale grace,
// and fails the test unless the known principal still relays task.status,
// both on requester and on a new connection with DIR/NAME.key_secret.
func expectStaleRelay(t *testing.T, e *serveEnv, requester *client.Client, name string, out fmt.Stringer) {
	t.Helper()
	time.Sleep(1200 * time.Millisecond) // past the 1s TTL: answers now come from the stale grace
	if _, err := retryRequest(requester, "proxy", "task.status"); err != nil {
		t.Fatalf("known principal during the outage: %v\n%s", err, out)
	}
	again := nodeClient(t, e, name)
	if _, err := retryRequest(again, "proxy", "task.status"); err != nil {
		t.Fatalf("known principal reconnecting during the outage: %v\n%s", err, out)
	}
}

// expectUnanswered fails the test unless a task.status of c, a principal
// the cache has never seen, gets no answer within 3 s while the directory
// is down (ZAP 300: the node retries) rather than a grant or a refused
// handshake; who names it in the message.
func expectUnanswered(t *testing.T, c *client.Client, who string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.Request(ctx, "proxy", "task.status"); err == nil || errors.Is(err, client.ErrHandshake) {
		t.Fatalf("%s during the outage got %v; want no answer (ZAP 300, retrying), not a grant or a 400", who, err)
	}
}

// expectOutageAudit fails the test unless the authn.connect records of
// the audit log in DIR/audit hold a stale grant of user (zapgate.stale,
// outcome success) and a refusal for directory-unavailable.
func expectOutageAudit(t *testing.T, e *serveEnv, user string) {
	t.Helper()
	audit := mustRun(t, "audit", "export", "--action", "authn.connect", "--format", "jsonl", filepath.Join(e.dir, "audit"))
	var stale, unavailable bool
	for _, line := range strings.Split(audit, "\n") {
		if strings.Contains(line, `"user.name":"`+user+`"`) && strings.Contains(line, `"zapgate.stale":true`) && strings.Contains(line, `"event.outcome":"success"`) {
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

// nodeClient connects a broker client with DIR/NAME.key_secret.
func nodeClient(t *testing.T, e *serveEnv, name string) *client.Client {
	t.Helper()
	c, err := certs.LoadSecret(filepath.Join(e.dir, name+".key_secret"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := certs.LoadPublic(filepath.Join(e.dir, "broker.key"))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(client.Config{Endpoint: e.listen, ServerKey: srv.Public, PublicKey: c.Public, SecretKey: *c.Secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// retryRequest retries while the worker is still registering.
func retryRequest(c *client.Client, service, command string) ([][]byte, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		reply, err := c.Request(ctx, service, command)
		cancel()
		if !errors.Is(err, client.ErrNoWorker) || time.Now().After(deadline) {
			return reply, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
