package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newSecretCert saves a new keypair as dir/name.key{,_secret} and returns it.
func newSecretCert(t *testing.T, dir, name string) (*Cert, string) {
	t.Helper()
	c, err := NewCert()
	if err != nil {
		t.Fatal(err)
	}
	_, sec, err := c.Save(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return c, sec
}

func TestAddCert(t *testing.T) {
	src := t.TempDir()
	reg := filepath.Join(t.TempDir(), "registry") // created by AddCert
	c, secPath := newSecretCert(t, src, "node")
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	b, err := AddCert(reg, secPath, "CORP\\PROXY01$", AddOptions{Source: "TICKET-7", Note: "rack 4", Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	want := Binding{Key: c.Public, Principal: "CORP\\PROXY01$", Source: "TICKET-7", Note: "rack 4",
		Expires: exp, File: filepath.Join(reg, "corp-proxy01.key")}
	if b != want {
		t.Fatalf("AddCert = %+v\nwant %+v", b, want)
	}
	data, err := os.ReadFile(b.File)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "secret-key") || strings.Contains(string(data), c.Secret.Z85()) {
		t.Fatalf("registry file holds the secret key:\n%s", data)
	}
	if fi, _ := os.Stat(b.File); fi.Mode().Perm() != 0o644 {
		t.Fatalf("registry file mode %o", fi.Mode().Perm())
	}
	r, err := Open(reg, Options{Logger: quietLog, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Lookup(c.Public); err != nil || got != want {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}

	// The same key again, under another name: refused, naming the file.
	_, err = AddCert(reg, filepath.Join(src, "node.key"), "OTHER$", AddOptions{})
	if err == nil || !strings.Contains(err.Error(), "corp-proxy01.key") || !strings.Contains(err.Error(), "already bound") {
		t.Fatalf("AddCert of a bound key: %v", err)
	}
	// Another key under an existing file name: refused, nothing replaced.
	_, sec2 := newSecretCert(t, src, "node2")
	_, err = AddCert(reg, sec2, "CORP\\PROXY01$", AddOptions{})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("AddCert over an existing file: %v; want fs.ErrExist", err)
	}
	// An explicit name works, with or without ".key".
	b2, err := AddCert(reg, sec2, "CORP\\PROXY01$", AddOptions{Name: "proxy01-2026.key"})
	if err != nil || filepath.Base(b2.File) != "proxy01-2026.key" {
		t.Fatalf("AddCert with a name = %+v, %v", b2, err)
	}

	bad := []struct {
		principal string
		opts      AddOptions
		want      string
	}{
		{"", AddOptions{}, "empty principal"},
		{" A", AddOptions{}, "leading or trailing blanks"},
		{"A\nB", AddOptions{}, "control character"},
		{"A", AddOptions{Name: "../x"}, "must not start with '.'"},
		{"A", AddOptions{Name: "a/../../x"}, "invalid character '/'"},
		{"A", AddOptions{Name: ".hidden"}, "must not start with '.'"},
		{"A", AddOptions{Note: "line\nbreak"}, "control character"},
	}
	_, sec3 := newSecretCert(t, src, "node3")
	for _, tt := range bad {
		if _, err := AddCert(reg, sec3, tt.principal, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("AddCert(%q, %+v) = %v; want %q", tt.principal, tt.opts, err, tt.want)
		}
	}
	if _, err := AddCert(reg, filepath.Join(src, "missing.key"), "A", AddOptions{}); err == nil {
		t.Error("AddCert of a missing file succeeded")
	}
}

func TestAddCertRefusesRevokedKey(t *testing.T) {
	src, reg := t.TempDir(), t.TempDir()
	_, sec := newSecretCert(t, src, "node")
	if _, err := AddCert(reg, sec, "A", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Revoke(reg, "A"); err != nil {
		t.Fatal(err)
	}
	_, err := AddCert(reg, sec, "A", AddOptions{})
	if err == nil || !strings.Contains(err.Error(), "revoked") || !strings.Contains(err.Error(), filepath.Join(reg, RevokedDir, "a.key")) {
		t.Fatalf("AddCert of a revoked key: %v", err)
	}
}

func TestSafeName(t *testing.T) {
	var key PublicKey
	tests := []struct{ in, want string }{
		{"PROXY01$", "proxy01"},
		{"CORP\\proxy01$", "corp-proxy01"},
		{"proxy01@corp.example.com", "proxy01@corp.example.com"},
		{"CN=Proxy 01,OU=Servers", "cn-proxy-01-ou-servers"},
		{"..hidden..", "hidden"},
		{"Prøxy", "pr-xy"},
		{"$$$", "key-66687aadf862"},
		{strings.Repeat("a", 150), strings.Repeat("a", 100)},
	}
	for _, tt := range tests {
		got := SafeName(tt.in, key)
		if got != tt.want {
			t.Errorf("SafeName(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if msg := validFileName(got); msg != "" {
			t.Errorf("SafeName(%q) = %q is not a valid file name: %s", tt.in, got, msg)
		}
	}
}

func TestListFindRevoke(t *testing.T) {
	dir := t.TempDir()
	a := writeKeyFile(t, dir, "a.key", "principal", "PROXY01$")
	b1 := writeKeyFile(t, dir, "b1.key", "principal", "REPO$")
	writeKeyFile(t, dir, "b2.key", "principal", "REPO$")
	dup := writeKeyFile(t, dir, "d1.key", "principal", "DUP$")
	writeKeyFileFor(t, dir, "d2.key", dup, "principal", "DUP$")
	os.WriteFile(filepath.Join(dir, "bad.key"), []byte("nonsense line\n"), 0o644)

	list, errs := List(dir)
	var files []string
	for _, b := range list {
		files = append(files, filepath.Base(b.File))
	}
	if got := strings.Join(files, " "); got != "d1.key d2.key a.key b1.key b2.key" {
		t.Fatalf("List order = %s", got)
	}
	if all := fmt.Sprint(errs); len(errs) != 2 || !strings.Contains(all, "bad.key:1") || !strings.Contains(all, "d1.key, ") {
		t.Fatalf("List errors = %v", errs)
	}
	if _, errs := List(filepath.Join(dir, "missing")); len(errs) != 1 {
		t.Fatalf("List(missing) errors = %v", errs)
	}

	for _, sel := range []string{"PROXY01$", "proxy01$", a.String(), a.Fingerprint(), strings.TrimPrefix(a.Fingerprint(), "SHA256:"), "a.key", "a"} {
		got, err := Find(dir, sel)
		if err != nil || got.Key != a {
			t.Errorf("Find(%q) = %+v, %v; want a.key", sel, got, err)
		}
	}
	if _, err := Find(dir, "REPO$"); err == nil || !strings.Contains(err.Error(), "b1.key, b2.key") {
		t.Errorf("Find(ambiguous) = %v; want an error listing both files", err)
	}
	if _, err := Find(dir, dup.String()); err == nil || !strings.Contains(err.Error(), "2 bindings match") {
		t.Errorf("Find(conflicting key) = %v", err)
	}
	if _, err := Find(dir, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find(nobody) = %v; want ErrNotFound", err)
	}

	got, newPath, err := Revoke(dir, "b1.key")
	if err != nil || got.Key != b1 || newPath != filepath.Join(dir, RevokedDir, "b1.key") {
		t.Fatalf("Revoke = %+v, %q, %v", got, newPath, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, RevokedDir)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("revoked/ = %v, %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b1.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("revoked file still in the registry")
	}
	// A second revoked file of the same name gets a timestamp.
	writeKeyFile(t, dir, "b1.key", "principal", "REPO$")
	_, newPath2, err := Revoke(dir, "b1")
	if err != nil || !strings.HasPrefix(filepath.Base(newPath2), "b1.") || !strings.HasSuffix(newPath2, "Z.key") || newPath2 == newPath {
		t.Fatalf("second Revoke = %q, %v; want a timestamped name", newPath2, err)
	}
	if _, err := os.Stat(newPath); err != nil {
		t.Fatal("the first revoked file was replaced")
	}
	if _, _, err := Revoke(dir, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Revoke(nobody) = %v", err)
	}
}
