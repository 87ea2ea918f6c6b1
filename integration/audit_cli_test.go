//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
)

// auditKey makes a checkpoint keypair with `zapgate audit keygen`.
func auditKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	out := mustRun(t, "audit", "keygen", "ckpt", "--dir", dir)
	if !strings.Contains(out, "key id:  SHA256:") {
		t.Fatalf("keygen output:\n%s", out)
	}
	priv, err := audit.LoadSecretKey(filepath.Join(dir, "ckpt.secret"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := audit.LoadPublicKey(filepath.Join(dir, "ckpt.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// writeAuditLog writes n records (every third a denial, one hostile) to a
// new log in dir with key, rotating small, and closes it.
func writeAuditLog(t *testing.T, dir string, key ed25519.PrivateKey, n int) {
	t.Helper()
	l, err := audit.Open(audit.Options{Dir: dir, CheckpointKey: key, RotateBytes: 8192})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r := audit.Record{Action: audit.ActionRequest, Outcome: audit.OutcomeSuccess, User: fmt.Sprintf("PROXY%02d$", i%5),
			Roles: []string{"proxy"}, SourceIP: netip.MustParseAddr("10.20.0.9"), Service: "repository", Command: "task.status",
			RuleID: "roles.proxy.request[0]", Ruleset: "2026-11-25.1"}
		if i%3 == 0 {
			r.Outcome, r.Reason, r.Command = audit.OutcomeFailure, "not-allowed", "task.start"
		}
		if i == 4 {
			r.Action, r.User, r.Reason = audit.ActionConnect, "evil|x=y\\z\nSPOOF=1\ttab", "unknown-key \x1b[31m"
		}
		if _, err := l.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAuditCLIVerify(t *testing.T) {
	keys := t.TempDir()
	mustRun(t, "audit", "keygen", "ckpt", "--dir", keys)
	key, err := audit.LoadSecretKey(filepath.Join(keys, "ckpt.secret"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "audit")
	writeAuditLog(t, dir, key, 60)
	pub := filepath.Join(keys, "ckpt.pub")
	out := mustRun(t, "audit", "verify", "--key", pub, dir)
	if !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "signatures verified") || !strings.Contains(out, "CHECKPOINT record") {
		t.Fatalf("verify:\n%s", out)
	}
	cfg := filepath.Join(t.TempDir(), "zapgate.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("audit:\n  dir: %s\n  checkpoint_public_key: %s\n", dir, pub)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "--config", cfg, "audit", "verify"); !strings.Contains(out, "signatures verified") {
		t.Fatalf("verify from the config:\n%s", out)
	}
	// A removed line: exit status 1, FILE:LINE and the reason.
	segs, _ := audit.Segments(dir)
	data, _ := os.ReadFile(segs[1].Path)
	lines := bytes.SplitAfter(data, []byte("\n"))
	if err := os.WriteFile(segs[1].Path, bytes.Join(append(lines[:2:2], lines[3:]...), nil), 0o640); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "audit", "verify", "--key", pub, dir)
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, segs[1].Name+":3: record") {
		t.Fatalf("tampered log: err %v\n%s", err, out)
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

func TestAuditCLIOpenSSLKey(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl missing: run `make deps`")
	}
	dir := t.TempDir()
	sec, pub := filepath.Join(dir, "k.secret"), filepath.Join(dir, "k.pub")
	for _, args := range [][]string{{"genpkey", "-algorithm", "ed25519", "-out", sec}, {"pkey", "-in", sec, "-pubout", "-out", pub}} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	if err := os.Chmod(sec, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.LoadSecretKey(sec); err == nil {
		t.Fatal("a world-readable key was accepted")
	}
	if err := os.Chmod(sec, 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := audit.LoadSecretKey(sec)
	if err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(dir, "audit")
	writeAuditLog(t, logDir, key, 5)
	if out := mustRun(t, "audit", "verify", "--key", pub, logDir); !strings.Contains(out, "signatures verified") {
		t.Fatalf("verify with the openssl key:\n%s", out)
	}
}

func TestAuditCLIExportAndTail(t *testing.T) {
	_, key := auditKey(t)
	dir := filepath.Join(t.TempDir(), "audit")
	writeAuditLog(t, dir, key, 30)
	lines := func(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

	cef := lines(mustRun(t, "audit", "export", "--format", "cef", "--outcome", "deny", dir))
	if len(cef) != 10 {
		t.Fatalf("%d denials exported, want 10:\n%s", len(cef), strings.Join(cef, "\n"))
	}
	for _, l := range cef {
		if !strings.HasPrefix(l, "CEF:0|zapgate|zapgate|") || !strings.Contains(l, "outcome=failure") {
			t.Errorf("cef line %q", l)
		}
	}
	leef := mustRun(t, "audit", "export", "--format", "leef", "--action", "authn.*", dir)
	if n := len(lines(leef)); n != 1 || !strings.Contains(leef, `usrName=evil|x=y\\z\nSPOOF=1\ttab`) {
		t.Errorf("leef (%d lines):\n%s", n, leef)
	}
	for _, l := range lines(mustRun(t, "audit", "export", "--format", "ecs", "--principal", "PROXY01$", dir)) {
		var doc struct {
			User struct{ Name string } `json:"user"`
		}
		if err := json.Unmarshal([]byte(l), &doc); err != nil || doc.User.Name != "PROXY01$" {
			t.Errorf("ecs line %q: %v", l, err)
		}
	}
	for _, l := range lines(mustRun(t, "audit", "export", dir)) {
		if _, err := audit.ParseRecord([]byte(l)); err != nil {
			t.Errorf("jsonl line does not verify: %v", err)
		}
	}
	if out := mustRun(t, "audit", "export", "--since", "2099-01-01", dir); out != "" {
		t.Errorf("future --since exported:\n%s", out)
	}
	if out, err := run(t, "audit", "export", "--format", "xml", dir); err == nil {
		t.Errorf("xml format accepted:\n%s", out)
	}

	tail := lines(mustRun(t, "audit", "tail", "-n", "3", dir))
	if len(tail) != 3 || !strings.Contains(tail[2], "audit.checkpoint") {
		t.Errorf("tail -n 3:\n%s", strings.Join(tail, "\n"))
	}
	evil := mustRun(t, "audit", "tail", "-n", "100", "--action", "authn.connect", dir)
	if strings.ContainsAny(evil, "\x1b\t") || !strings.Contains(evil, `user="evil|x=y\\z\nSPOOF=1\ttab"`) {
		t.Errorf("hostile values not quoted: %q", evil)
	}
}

func TestAuditCLITailFollow(t *testing.T) {
	_, key := auditKey(t)
	dir := filepath.Join(t.TempDir(), "audit")
	writeAuditLog(t, dir, key, 3)
	cmd := exec.Command(zapgateBin, "audit", "tail", "-f", "-n", "1", "--outcome", "failure", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	got := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case l := <-got:
			if !strings.Contains(l, want) {
				t.Fatalf("tail -f printed %q, want %q", l, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("tail -f printed nothing for %q", want)
		}
	}
	expect("#1 authz.request failure")
	l, err := audit.Open(audit.Options{Dir: dir, CheckpointKey: key, RotateBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 20; i++ {
		r := audit.Record{Action: audit.ActionConnect, Outcome: audit.OutcomeSuccess, User: "OK$"}
		if i%10 == 9 {
			r.Outcome, r.User = audit.OutcomeFailure, fmt.Sprintf("DENIED%d$", i)
		}
		if _, err := l.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	expect("user=DENIED9$")
	expect("user=DENIED19$")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Errorf("tail -f after SIGINT: %v", err)
	}
}
