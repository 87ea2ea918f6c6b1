package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zapgate/zapgate/broker/audit"
)

// runCLI runs zapgate in-process with args, with an empty configuration
// file (the defaults), and returns its output.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "zapgate.yaml")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--config", cfg}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// auditFixture writes a keypair with `audit keygen` and a closed log of n
// records signed with it.
func auditFixture(t *testing.T, n int) (dir, pub string) {
	t.Helper()
	keys := t.TempDir()
	if out, err := runCLI(t, "audit", "keygen", "ck", "--dir", keys); err != nil || !strings.Contains(out, "key id:") {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	key, err := audit.LoadSecretKey(filepath.Join(keys, "ck.secret"))
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "audit")
	l, err := audit.Open(audit.Options{Dir: dir, CheckpointKey: key, RotateBytes: 4096, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r := audit.Record{Action: audit.ActionConnect, Outcome: audit.OutcomeSuccess, User: fmt.Sprintf("N%d$", i)}
		if i%2 == 1 {
			r.Outcome, r.Action = audit.OutcomeFailure, audit.ActionRequest
		}
		if _, err := l.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(keys, "ck.pub")
}

func TestAuditVerifyCommand(t *testing.T) {
	dir, pub := auditFixture(t, 20)
	out, err := runCLI(t, "audit", "verify", "--key", pub, dir)
	if err != nil || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "signatures verified") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	out, err = runCLI(t, "audit", "verify", dir)
	if err == nil || !strings.Contains(err.Error(), "--no-signatures") || !strings.Contains(out, "signatures NOT checked") {
		t.Fatalf("verify without a key: %v\n%s", err, out)
	}
	out, err = runCLI(t, "audit", "verify", "--no-signatures", dir)
	if err != nil || !strings.Contains(out, "note:") {
		t.Fatalf("verify --no-signatures: %v\n%s", err, out)
	}
	segs, _ := audit.Segments(dir)
	if err := os.Remove(segs[len(segs)-1].Path); err != nil {
		t.Fatal(err)
	}
	_, err = runCLI(t, "audit", "verify", "--key", pub, dir)
	var ce *audit.ChainError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "CHECKPOINT:1:") {
		t.Fatalf("removed newest file: %v", err)
	}
	if _, err := runCLI(t, "audit", "verify", t.TempDir()); err == nil {
		t.Error("verify of an empty directory succeeded")
	}
}

func TestAuditExportAndTailCommands(t *testing.T) {
	dir, _ := auditFixture(t, 20)
	out, err := runCLI(t, "audit", "export", "--format", "leef", "--outcome", "deny", dir)
	if err != nil || strings.Count(out, "LEEF:2.0|zapgate|zapgate|") != 10 {
		t.Fatalf("export: %v\n%s", err, out)
	}
	out, err = runCLI(t, "audit", "export", "--action", "authn.*", "--format", "jsonl", dir)
	if err != nil || strings.Count(out, "\n") != 10 {
		t.Fatalf("export jsonl: %v\n%s", err, out)
	}
	for _, bad := range [][]string{{"--since", "soon"}, {"--outcome", "maybe"}, {"--format", "xml"}} {
		if _, err := runCLI(t, append([]string{"audit", "export", dir}, bad...)...); err == nil {
			t.Errorf("export %v accepted", bad)
		}
	}
	outFile := filepath.Join(t.TempDir(), "x.cef")
	if _, err := runCLI(t, "audit", "export", "--format", "cef", "-o", outFile, dir); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(outFile); bytes.Count(data, []byte("CEF:0|")) < 20 {
		t.Errorf("cef file:\n%s", data)
	}
	out, err = runCLI(t, "audit", "tail", "-n", "2", "--principal", "N3$", dir)
	if err != nil || strings.TrimSpace(out) == "" || !strings.Contains(out, "user=N3$") || strings.Count(out, "\n") != 1 {
		t.Fatalf("tail: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "audit", "tail", "-f", filepath.Join(dir, "x.jsonl")); err == nil {
		t.Error("tail -f of a missing file succeeded")
	}
}
