package strictmode

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func stat(t *testing.T, p string) fs.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestSecretAndTrustedModes(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, nil, 0o600)
	for _, c := range []struct {
		mode            fs.FileMode
		secret, trusted bool
	}{
		{0o600, true, true}, {0o640, false, true}, {0o644, false, true},
		{0o620, false, false}, {0o602, false, false}, {0o666, false, false},
	} {
		os.Chmod(f, c.mode)
		fi := stat(t, f)
		if err := Secret(f, fi); (err == nil) != c.secret || err != nil && !errors.Is(err, ErrAccessible) {
			t.Errorf("Secret(%04o) = %v", c.mode, err)
		}
		err := Trusted(f, fi)
		if (err == nil) != c.trusted || err != nil && (!errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "chmod go-w "+f)) {
			t.Errorf("Trusted(%04o) = %v", c.mode, err)
		}
	}
	if os.Geteuid() == 0 {
		os.Chmod(f, 0o644)
		os.Chown(f, 65534, 65534)
		if err := Trusted(f, stat(t, f)); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("Trusted(owned by 65534) = %v", err)
		}
	}
}

func TestTrustedDirChecksAncestors(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "keys")
	os.MkdirAll(dir, 0o755)
	if err := TrustedDir(dir); err != nil {
		t.Fatalf("TrustedDir(0755 under a 0700 temp dir) = %v", err)
	}
	// A writable ancestor: refused, naming it.
	os.Chmod(filepath.Join(base, "a"), 0o777)
	if err := TrustedDir(dir); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), filepath.Join(base, "a")+":") {
		t.Fatalf("TrustedDir with a 0777 parent = %v", err)
	}
	// A sticky ancestor (like /tmp) is fine; the directory itself is not.
	os.Chmod(filepath.Join(base, "a"), 0o777|fs.ModeSticky)
	if err := TrustedDir(dir); err != nil {
		t.Fatalf("TrustedDir with a sticky 1777 parent = %v", err)
	}
	os.Chmod(dir, 0o777|fs.ModeSticky)
	if err := TrustedDir(dir); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("TrustedDir(1777 itself) = %v", err)
	}
	os.Chmod(dir, 0o755)
	// Through a symbolic link: the real directory is checked.
	link := filepath.Join(base, "link")
	os.Symlink(dir, link)
	if err := TrustedDir(link); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o775)
	if err := TrustedDir(link); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), link) {
		t.Fatalf("TrustedDir(link to 0775) = %v", err)
	}
	if err := TrustedDir(filepath.Join(base, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("TrustedDir(missing) = %v", err)
	}
}
