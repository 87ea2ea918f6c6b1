package certs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyFixture copies a testdata file into dir with the given mode.
func copyFixture(t *testing.T, src, dir string, mode fs.FileMode) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil { // not narrowed by the umask
		t.Fatal(err)
	}
	return dst
}

func TestLoadSecretPermissions(t *testing.T) {
	dir := t.TempDir()
	path := copyFixture(t, "testdata/czmq/proxy01.key_secret", dir, 0o600)
	for _, mode := range []fs.FileMode{0o600, 0o400} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		c, err := LoadSecret(path)
		if err != nil {
			t.Fatalf("mode %o: %v", mode, err)
		}
		if c.Secret == nil || c.Secret.Z85() != docSecret || c.Public.String() != docPublic {
			t.Fatalf("mode %o: wrong keys", mode)
		}
	}
	for _, mode := range []fs.FileMode{0o640, 0o604, 0o644, 0o660, 0o602, 0o610} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadSecret(path)
		if !errors.Is(err, ErrInsecureMode) {
			t.Fatalf("mode %o: error %v; want ErrInsecureMode", mode, err)
		}
		for _, want := range []string{path, "chmod 600", "mode 0" + octal(mode)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %o: error %q lacks %q", mode, err, want)
			}
		}
	}
}

func octal(m fs.FileMode) string {
	const digits = "01234567"
	p := uint32(m.Perm())
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestLoadSecretRefusesPublicFile(t *testing.T) {
	dir := t.TempDir()
	path := copyFixture(t, "testdata/czmq/proxy01.key", dir, 0o600)
	_, err := LoadSecret(path)
	if !errors.Is(err, ErrNoSecret) || !strings.Contains(err.Error(), path+"_secret") {
		t.Fatalf("LoadSecret(public file) error = %v; want ErrNoSecret naming %s_secret", err, path)
	}
}

func TestLoadPublicDropsSecret(t *testing.T) {
	dir := t.TempDir()
	path := copyFixture(t, "testdata/czmq/proxy01.key_secret", dir, 0o644)
	c, err := LoadPublic(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Secret != nil || c.Public.String() != docPublic {
		t.Fatalf("LoadPublic(secret file) = %+v; want the public key and no secret", c)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, []byte(strings.Repeat("# x\n", 20000)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{filepath.Join(dir, "missing.key"), "no such file"},
		{dir, "not a regular file"},
		{big, "larger than"},
	}
	for _, tt := range tests {
		_, err := LoadPublic(tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "certs: load ") {
			t.Errorf("LoadPublic(%s) = %v; want %q", tt.path, err, tt.want)
		}
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	c, err := NewCert()
	if err != nil {
		t.Fatal(err)
	}
	c.Metadata.Set("principal", "PROXY01$")
	pubPath, secPath, err := c.Save(dir, "proxy01")
	if err != nil {
		t.Fatal(err)
	}
	if pubPath != filepath.Join(dir, "proxy01.key") || secPath != filepath.Join(dir, "proxy01.key_secret") {
		t.Fatalf("paths %s %s", pubPath, secPath)
	}
	for path, want := range map[string]fs.FileMode{pubPath: 0o644, secPath: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %o; want %o", path, fi.Mode().Perm(), want)
		}
	}
	pub, err := LoadPublic(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := LoadSecret(secPath)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Public != c.Public || sec.Public != c.Public || *sec.Secret != *c.Secret {
		t.Fatal("saved keys differ")
	}
	data, _ := os.ReadFile(pubPath)
	if strings.Contains(string(data), "secret-key") {
		t.Fatal("public file holds a secret key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("directory holds %d entries; want 2 (temporary files left?)", len(entries))
	}

	// Never overwrite: neither file changes, even when only one exists.
	c2, _ := NewCert()
	if _, _, err := c2.Save(dir, "proxy01"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Save error = %v; want fs.ErrExist", err)
	}
	if err := os.Remove(pubPath); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c2.Save(dir, "proxy01"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Save over an existing secret file error = %v; want fs.ErrExist", err)
	}
	if again, err := LoadSecret(secPath); err != nil || *again.Secret != *c.Secret {
		t.Fatalf("the secret file changed: %v", err)
	}
	if _, err := os.Stat(pubPath); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a failed Save left a public file")
	}
	if err := c2.SavePublic(secPath); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SavePublic over a file error = %v; want fs.ErrExist", err)
	}
}

func TestSaveRefusesBadNames(t *testing.T) {
	c, err := NewCert()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"", ".hidden", "../escape", "a/b", "-flag", "sp ace", strings.Repeat("a", 201)} {
		if _, _, err := c.Save(dir, name); err == nil {
			t.Errorf("Save(%q) succeeded", name)
		}
	}
	pub := &Cert{Public: c.Public}
	if _, _, err := pub.Save(dir, "nosecret"); err == nil {
		t.Error("Save of a public-only certificate succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("refused saves left %d files", len(entries))
	}
}
