package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zapgate/zapgate/certs"
)

// Issue 11 item 5: `keys add --expires` in the past wrote a binding that
// was refused at once.
func TestKeysAddRefusesPastExpiry(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "keys")
	if out, err := runCLI(t, "keygen", "node", "--dir", dir); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	out, err := runCLI(t, "keys", "add", filepath.Join(dir, "node.key"), "--principal", "PROXY01$", "--expires", "2020-01-31", "--registry", reg)
	if err == nil || !strings.Contains(err.Error(), "not in the future") {
		t.Fatalf("keys add --expires 2020-01-31 = %v\n%s; want an error", err, out)
	}
	if bs, _ := certs.List(reg); len(bs) != 0 {
		t.Fatalf("a binding was written: %+v", bs)
	}
}

// Issue 11 item 6: the CLI verbs stamp who ran them into the files the
// broker audits.
func TestKeysAddAndRevokeStampTheOSUser(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "keys")
	runCLI(t, "keygen", "node", "--dir", dir)
	if out, err := runCLI(t, "keys", "add", filepath.Join(dir, "node.key"), "--principal", "PROXY01$", "--registry", reg); err != nil {
		t.Fatalf("keys add: %v\n%s", err, out)
	}
	b, err := certs.Find(reg, "PROXY01$")
	if err != nil || !strings.Contains(b.AddedBy, "(uid ") {
		t.Fatalf("binding %+v, %v; want added-by naming the OS user", b, err)
	}
	if out, err := runCLI(t, "keys", "revoke", "PROXY01$", "--registry", reg); err != nil {
		t.Fatalf("keys revoke: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(reg, certs.RevokedDir, filepath.Base(b.File)))
	if err != nil || !strings.Contains(string(data), "revoked-by = ") || !strings.Contains(string(data), `principal = "PROXY01$"`) {
		t.Fatalf("revoked file: %v\n%s", err, data)
	}
}

// Issue 11 item 5: keys list names the files it refuses.
func TestKeysListReportsRefusedFiles(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "keys")
	runCLI(t, "keygen", "node", "--dir", dir)
	if out, err := runCLI(t, "keys", "add", filepath.Join(dir, "node.key"), "--principal", "PROXY01$", "--registry", reg); err != nil {
		t.Fatalf("keys add: %v\n%s", err, out)
	}
	b, _ := certs.Find(reg, "PROXY01$")
	os.Chmod(b.File, 0o666)
	out, err := runCLI(t, "keys", "list", "--registry", reg)
	if err == nil || !strings.Contains(out, "REFUSED") || !strings.Contains(out, b.File+": mode 0666 is writable by group or others") {
		t.Fatalf("keys list = %v\n%s; want the refused file and exit 3", err, out)
	}
}
