//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// registryAudit returns the records of action in the serve env's audit log,
// as JSON objects.
func registryAudit(t *testing.T, e *serveEnv, action string) []map[string]any {
	t.Helper()
	out := mustRun(t, "audit", "export", "--format", "jsonl", "--action", action, filepath.Join(e.dir, "audit"))
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		recs = append(recs, m)
	}
	return recs
}

// registryServeEnv is a serve env whose policy lets PROXY01$ (group
// okta:backup-proxies in the static directory) connect from loopback,
// serve proxy and request task.* from it.
func registryServeEnv(t *testing.T) *serveEnv {
	t.Helper()
	e := newServeEnv(t)
	policy := `version: 1
roles:
  node:
    connect: {}
    serve: [proxy]
    request:
      - {service: proxy, commands: ["task.*"]}
bindings:
  - {group: "okta:backup-proxies", roles: [node]}
`
	if err := os.WriteFile(filepath.Join(e.dir, "policy.yaml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// Issue 11 item 6: `zapgate keys revoke` against a running broker left no
// audit record, and the refusal of the revoked key named no principal.
func TestKeysRevokeIsAuditedByRunningBroker(t *testing.T) {
	e := registryServeEnv(t)
	reg := filepath.Join(e.dir, "keys")
	mustRun(t, "keygen", "proxy01", "--dir", e.dir)
	mustRun(t, "keys", "add", filepath.Join(e.dir, "proxy01.key"), "--principal", "PROXY01$", "--source", "CHG-1", "--registry", reg)
	out := startServe(t, e)
	relayProxy(t, e, "proxy01", "before the revocation", out)

	mustRun(t, "keys", "revoke", "PROXY01$", "--registry", reg)
	expectHandshakeRefused(t, e, "proxy01", "the revoked node")

	var rev map[string]any
	waitUntil(t, 5*time.Second, "a keys.revoke record", func() bool {
		recs := registryAudit(t, e, "keys.revoke")
		if len(recs) > 0 {
			rev = recs[0]
		}
		return rev != nil
	})
	reason, _ := rev["event.reason"].(string)
	if user, _ := rev["user.name"].(string); !strings.Contains(user, "(uid ") ||
		!strings.Contains(reason, `before="bound principal=PROXY01$ source=CHG-1`) || !strings.Contains(reason, `after="revoked`) {
		t.Fatalf("keys.revoke record %v; want the OS user and the binding before\n%s", rev, out)
	}
	var refusal map[string]any
	for _, r := range registryAudit(t, e, "authn.connect") {
		if r["event.reason"] == "key-revoked" {
			refusal = r
		}
	}
	if refusal == nil || refusal["user.name"] != "PROXY01$" {
		t.Fatalf("refusal of the revoked key %v; want user.name PROXY01$\n%s", refusal, out)
	}
}

// Issue 11 item 5: a world-writable binding file and a registry moved away
// were accepted while /readyz said OK. Item 6: changes made while the
// broker is stopped are audited at its next start.
func TestServeRegistryStrictModesAndCatchUp(t *testing.T) {
	e := registryServeEnv(t)
	reg := filepath.Join(e.dir, "keys")
	mustRun(t, "keygen", "proxy01", "--dir", e.dir)
	mustRun(t, "keys", "add", filepath.Join(e.dir, "proxy01.key"), "--principal", "PROXY01$", "--registry", reg)
	cmd, out := e.start(t)
	if code, body := e.get("/readyz"); code != 200 {
		t.Fatalf("readyz %d %s\n%s", code, body, out)
	}
	file := filepath.Join(reg, "proxy01.key")
	os.Chmod(file, 0o666)
	expectHandshakeRefused(t, e, "proxy01", "the node of a 0666 binding file")
	waitUntil(t, 5*time.Second, "readyz to report the refused file", func() bool {
		code, body := e.get("/readyz")
		return code == 503 && strings.Contains(body, `"name":"keys","ok":false`) && strings.Contains(body, "refused by strict modes")
	})
	if _, body := e.get("/metrics"); !strings.Contains(body, "zapgate_keys_refused_files 1") {
		t.Errorf("metrics lack the refused file:\n%s", body)
	}
	os.Chmod(file, 0o644)
	waitUntil(t, 5*time.Second, "readyz to recover after chmod 644", func() bool { code, _ := e.get("/readyz"); return code == 200 })
	relayProxy(t, e, "proxy01", "after chmod 644", out)

	os.Rename(reg, reg+".moved")
	expectHandshakeRefused(t, e, "proxy01", "the node of a registry moved away")
	waitUntil(t, 5*time.Second, "readyz to report the missing registry", func() bool {
		code, body := e.get("/readyz")
		return code == 503 && strings.Contains(body, "registry directory is gone")
	})
	os.Rename(reg+".moved", reg)
	waitUntil(t, 5*time.Second, "readyz to recover", func() bool { code, _ := e.get("/readyz"); return code == 200 })
	relayProxy(t, e, "proxy01", "with the registry back", out)

	// Stopped: a key is added; the next start audits it.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	mustRun(t, "keygen", "proxy02", "--dir", e.dir)
	mustRun(t, "keys", "add", filepath.Join(e.dir, "proxy02.key"), "--principal", "PROXY02$", "--registry", reg)
	startServe(t, e)
	var added []string
	for _, r := range registryAudit(t, e, "keys.add") {
		reason, _ := r["event.reason"].(string)
		user, _ := r["user.name"].(string)
		added = append(added, user+" "+reason)
	}
	// PROXY01$ at the first start, again when its file was trusted again,
	// and PROXY02$ (with the OS user who added it) at the second start.
	if len(added) != 3 || !strings.Contains(added[0], `baseline principal="PROXY01$"`) ||
		!strings.Contains(added[1], `added principal="PROXY01$"`) ||
		!strings.Contains(added[2], `added principal="PROXY02$"`) || !strings.Contains(added[2], "(uid ") {
		t.Fatalf("keys.add records %q", added)
	}
	errs := registryAudit(t, e, "keys.error")
	var codes []string
	for _, r := range errs {
		codes = append(codes, strings.Fields(r["event.reason"].(string))[0]+"/"+r["event.outcome"].(string))
	}
	if strings.Join(codes, " ") != "file-refused/failure file-accepted/success registry-missing/failure registry-restored/success" {
		t.Errorf("keys.error records %v", codes)
	}
	mustRun(t, "audit", "verify", filepath.Join(e.dir, "audit"))
}
