//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zapgate/zapgate/idp/okta/oktatest"
)

// enrollOktaPolicy: the Okta group backup-proxies serves and requests the
// proxy service; people in the provider's group backup-admins may enroll
// the proxy*@corp.example.com principals.
const enrollOktaPolicy = `version: 1
roles:
  backup-server:
    connect: {}
    serve: [proxy]
    request:
      - {service: proxy, commands: ["task.*"]}
  enroller:
    enroll:
      - {principals: ["proxy*@corp.example.com"]}
bindings:
  - {group: "okta:backup-proxies", roles: [backup-server]}
  - {group: "okta:backup-admins", roles: [enroller]}
`

// TestEnrollOktaEndToEnd: the broker's directory is Okta (the contract
// server). alice signs in at the real OpenID provider through `zapgate
// enroll`'s device flow and binds a new node's key to its Okta user; the
// node connects and relays a command; its Okta user is suspended and its
// next request is refused within the cache lifetime; the audit log holds
// alice's enrollment and the refusal.
func TestEnrollOktaEndToEnd(t *testing.T) {
	srv := oktatest.New(t)
	const node = "proxy09@corp.example.com"
	srv.AddUser(oktatest.User{Login: node})
	srv.SetGroups(node, "backup-proxies", "Everyone")
	se := oktaServeEnv(t, srv, "    ttl: 1s\n    negative_ttl: 1s\n    stale_grace: 1m\n    query_timeout: 3s\n", nil)
	if err := os.WriteFile(filepath.Join(se.dir, "policy.yaml"), []byte(enrollOktaPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startEnrollEnv(t, se)

	k := e.nodeKey(t, "proxy09")
	out, err := runDeviceCLI(t, "alice", "enroll", "--broker", e.broker, "--ca-file", e.caFile, "--no-qr",
		"--key", filepath.Join(e.dir, "proxy09.key_secret"), "--principal", node)
	if err != nil || !strings.Contains(out, "bound: key "+k.Fingerprint()) || !strings.Contains(out, "is bound to "+node+" (approved by alice@example.com)") {
		t.Fatalf("zapgate enroll: %v\n%s\nbroker:\n%s", err, out, e.out)
	}
	if srv.Count(oktatest.EndpointUser)+srv.Count(oktatest.EndpointUsers) == 0 {
		t.Fatal("the enrollment did not look the principal up in Okta")
	}

	worker, requester := nodeClient(t, e.serveEnv, "proxy09"), nodeClient(t, e.serveEnv, "proxy09")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker.Serve(ctx, "proxy", func(_ context.Context, cmd string, _ [][]byte) ([][]byte, error) {
		return [][]byte{[]byte("done " + cmd)}, nil
	})
	reply, err := retryRequest(requester, "proxy", "task.start")
	if err != nil || len(reply) != 1 || string(reply[0]) != "done task.start" {
		t.Fatalf("the enrolled node's request: %q %v\n%s", reply, err, e.out)
	}

	// Suspend the node's Okta user: within the cache lifetime its next
	// request is refused.
	srv.SetStatus(node, "SUSPENDED")
	took := waitForbidden(t, requester, "after its Okta user was suspended")
	t.Logf("refused %s after the suspension (cache ttl 1s)", took.Round(time.Millisecond))

	// The audit log: alice's enrollment of the node's key, and the
	// refusal of the suspended node's request (its account disabled).
	type rec struct {
		Action  string `json:"event.action"`
		Outcome string `json:"event.outcome"`
		Reason  string `json:"event.reason"`
		User    string `json:"user.name"`
		Key     string `json:"zapgate.key"`
		Command string `json:"zapgate.command"`
		Rule    string `json:"rule.id"`
	}
	var enrolled, refused bool
	export := mustRun(t, "audit", "export", "--format", "jsonl", filepath.Join(e.dir, "audit"))
	for _, line := range strings.Split(strings.TrimSpace(export), "\n") {
		var r rec
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit export line %q: %v", line, err)
		}
		if r.Action == "keys.enroll" && r.Outcome == "success" && r.User == "alice@example.com" && r.Key == k.Fingerprint() &&
			strings.HasPrefix(r.Reason, "bound ") && strings.Contains(r.Reason, `principal="`+node+`"`) {
			enrolled = true
		}
		if r.Action == "authz.request" && r.Outcome == "failure" && r.Reason == "forbidden" &&
			r.User == node && r.Key == k.Fingerprint() && r.Command == "task.start" && r.Rule == "identity:account-disabled" {
			refused = true
		}
	}
	if !enrolled || !refused {
		t.Errorf("audit lacks alice's keys.enroll success (%v) or the suspended node's refusal (%v):\n%s", enrolled, refused, export)
	}
}
