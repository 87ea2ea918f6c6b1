//go:build integration

package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveEnv is a configuration for `zapgate serve` in a temporary directory.
type serveEnv struct {
	dir, config, admin, listen string
}

func newServeEnv(t testing.TB) *serveEnv {
	t.Helper()
	e := &serveEnv{dir: t.TempDir()}
	mustRun(t, "keygen", "broker", "--dir", e.dir)
	os.Mkdir(filepath.Join(e.dir, "keys"), 0o755)
	os.WriteFile(filepath.Join(e.dir, "directory.yaml"), []byte("version: 1\nprincipals:\n  \"PROXY01$\": {groups: [\"okta:backup-proxies\"]}\n"), 0o644)
	policy, err := os.ReadFile("../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.dir, "policy.yaml"), policy, 0o644)
	e.admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.listen = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	e.config = filepath.Join(e.dir, "zapgate.yaml")
	cfg := fmt.Sprintf(`keys:
  registry: %[1]s/keys
  server_secret: %[1]s/broker.key_secret
broker:
  listen: %[2]s
admin:
  listen: %[3]s
directory:
  type: static
  static: {file: %[1]s/directory.yaml}
policy:
  file: %[1]s/policy.yaml
audit:
  dir: %[1]s/audit
`, e.dir, e.listen, e.admin)
	if err := os.WriteFile(e.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// start runs `zapgate serve` and waits until /readyz answers.
func (e *serveEnv) start(t testing.TB) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(zapgateBin, "serve", "--config", e.config)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _ := e.get("/readyz"); code != 0 {
			return cmd, out
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not answering on %s:\n%s", e.admin, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *serveEnv) get(path string) (int, string) {
	resp, err := http.Get("http://" + e.admin + path)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeLifecycle(t *testing.T) {
	e := newServeEnv(t)
	cmd, out := e.start(t)
	if code, body := e.get("/readyz"); code != 200 {
		t.Fatalf("readyz %d %s\n%s", code, body, out)
	}
	if _, body := e.get("/metrics"); !strings.Contains(body, "zapgate_zap_requests_total 1") {
		t.Errorf("metrics lack the self-test request:\n%s", body)
	}

	// A broken policy on SIGHUP is refused; the last good one keeps
	// serving and readiness says so.
	policyPath := filepath.Join(e.dir, "policy.yaml")
	good, _ := os.ReadFile(policyPath)
	os.WriteFile(policyPath, []byte("version: 1\nroles:\n  r: {serve: [\"\"]}\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 5*time.Second, "readyz to report the refused policy", func() bool {
		code, body := e.get("/readyz")
		return code == 503 && strings.Contains(body, `"name":"policy","ok":false`)
	})
	os.WriteFile(policyPath, good, 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, 5*time.Second, "readyz to recover", func() bool {
		code, _ := e.get("/readyz")
		return code == 200
	})

	// SIGTERM stops gracefully.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, out)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM:\n%s", out)
	}
	// The audit log verifies and holds the policy reloads.
	verify := mustRun(t, "audit", "verify", filepath.Join(e.dir, "audit"))
	if !strings.Contains(strings.ToLower(verify), "ok") {
		t.Errorf("audit verify: %s", verify)
	}
	tail := mustRun(t, "audit", "tail", "--action", "policy.reload", filepath.Join(e.dir, "audit"))
	if strings.Count(tail, "policy.reload") < 2 {
		t.Errorf("policy reloads not audited:\n%s", tail)
	}
}

func TestServeRefusesToStartWithoutZAPPrerequisites(t *testing.T) {
	e := newServeEnv(t)
	// A secret key readable by others: serve must refuse to start.
	os.Chmod(filepath.Join(e.dir, "broker.key_secret"), 0o644)
	out, err := run(t, "serve", "--config", e.config)
	if err == nil || !strings.Contains(out, "chmod 600") {
		t.Fatalf("serve started with a world-readable secret key (err %v):\n%s", err, out)
	}
}

func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPolicyExplainByKey(t *testing.T) {
	e := newServeEnv(t)
	mustRun(t, "keygen", "proxy01", "--dir", e.dir)
	mustRun(t, "keys", "add", filepath.Join(e.dir, "proxy01.key"), "--principal", "PROXY01$", "--registry", filepath.Join(e.dir, "keys"))
	out := mustRun(t, "policy", "explain", filepath.Join(e.dir, "policy.yaml"), "--config", e.config,
		"--key", "PROXY01$", "--action", "serve", "--service", "proxy")
	for _, want := range []string{`is bound to "PROXY01$"`, "decision: ALLOW", "role:proxy:serve#1", `group "okta:backup-proxies"`} {
		if !strings.Contains(out, want) {
			t.Errorf("explain --key output lacks %q:\n%s", want, out)
		}
	}
	if out, err := run(t, "policy", "explain", filepath.Join(e.dir, "policy.yaml"), "--config", e.config,
		"--key", "NOBODY$", "--action", "serve", "--service", "proxy"); err == nil {
		t.Errorf("explain --key of an unknown key succeeded:\n%s", out)
	}
}

// TestServeForwardsAuditToRsyslog runs `zapgate serve` with audit.syslog
// pointing at a real rsyslogd over plain TCP: the records of the start
// (policy load) reach the receiver while the broker runs.
func TestServeForwardsAuditToRsyslog(t *testing.T) {
	r := newRsyslog(t, nil)
	e := newServeEnv(t)
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "  syslog:\n    address: %s\n    transport: tcp\n    hostname: broker1\n", r.addr())
	f.Close()
	cmd, out := e.start(t)
	recs := r.waitRecords(t, 1, "serve forwarding")
	if recs[0].Action != "policy.reload" {
		t.Errorf("first forwarded record is %s, want policy.reload", recs[0].Action)
	}
	if _, body := e.get("/metrics"); !strings.Contains(body, "zapgate_syslog_connected 1") {
		t.Errorf("metrics do not show the syslog connection:\n%s", body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, out)
	}
}
