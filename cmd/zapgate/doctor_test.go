package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zapgate/zapgate/config"
)

// TestDoctorPrincipalCheck looks principals up through the configured
// directory as `doctor --principal` does: found and enabled, found but
// disabled (reported, not failed), and not found (failed).
func TestDoctorPrincipalCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "directory.yaml")
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "directory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	cfg.Directory.Type = "static"
	cfg.Directory.Static.File = dir
	checks := checkPrincipals(context.Background(), cfg, []string{"PROXY01$", "OLDPROXY$", "NOBODY$"})
	if len(checks) != 3 {
		t.Fatalf("got %d checks, want 3: %+v", len(checks), checks)
	}
	if c := checks[0]; c.err != nil || !strings.Contains(c.name, `"PROXY01$" found, enabled, 1 groups`) {
		t.Errorf("PROXY01$: %q, %v", c.name, c.err)
	}
	if c := checks[1]; c.err != nil || !strings.Contains(c.name, "NOT enabled") {
		t.Errorf("OLDPROXY$: %q, %v", c.name, c.err)
	}
	if c := checks[2]; c.err == nil || !strings.Contains(c.err.Error(), "not found") {
		t.Errorf("NOBODY$: %q, %v", c.name, c.err)
	}
	cfg.Directory.Type = "nis"
	if c := checkPrincipals(context.Background(), cfg, []string{"X"}); len(c) != 1 || c[0].err == nil {
		t.Errorf("unknown directory type: %+v", c)
	}
}

// Issue 11 item 5: doctor fails on registry files and directories others
// may change, and on a missing registry.
func TestDoctorRegistryStrictModes(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "keys")
	runCLI(t, "keygen", "node", "--dir", dir)
	if out, err := runCLI(t, "keys", "add", filepath.Join(dir, "node.key"), "--principal", "PROXY01$", "--registry", reg); err != nil {
		t.Fatalf("keys add: %v\n%s", err, out)
	}
	if c := checkRegistry(reg); len(c) != 1 || c[0].err != nil || !strings.Contains(c[0].name, "(1 bindings)") {
		t.Fatalf("checks %+v", c)
	}
	os.Chmod(reg, 0o777)
	if c := checkRegistry(reg); len(c) == 0 || c[0].err == nil || !strings.Contains(c[0].err.Error(), "mode 0777 is writable by group or others") {
		t.Fatalf("0777 registry: checks %+v", c)
	}
	os.Chmod(reg, 0o755)
	os.Rename(reg, reg+".moved")
	if c := checkRegistry(reg); len(c) != 1 || c[0].err == nil {
		t.Fatalf("missing registry: checks %+v", c)
	}
}
