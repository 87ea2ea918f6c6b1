package certs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 11 item 5: registry files and directories others may write were
// accepted silently.

func TestRegistryRefusesWritableBindingFile(t *testing.T) {
	dir := t.TempDir()
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	b := writeKeyFile(t, dir, "b.key", "principal", "B")
	bad := filepath.Join(dir, "b.key")
	if err := os.Chmod(bad, 0o666); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(b); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup of a key in a 0666 file = %v; want a refusal", err)
	}
	if _, err := r.Lookup(a); err != nil {
		t.Fatalf("the 0644 file next to it: %v", err)
	}
	st := r.Stats()
	if st.Refused != 1 || st.Skipped != 1 || st.Bindings != 1 {
		t.Fatalf("Stats = %+v; want one refused file", st)
	}
	p := r.Problems()
	if len(p) != 1 || !errors.Is(p[0], ErrUntrusted) || !strings.Contains(p[0].Error(), bad) ||
		!strings.Contains(p[0].Error(), "mode 0666 is writable by group or others") || !strings.Contains(p[0].Error(), "chmod go-w") {
		t.Fatalf("Problems = %v; want the file, its mode and the fix", p)
	}
	if why := r.Snapshot().Refused[bad]; !strings.Contains(why, "writable") {
		t.Fatalf("Snapshot().Refused[%s] = %q", bad, why)
	}
	if _, errs := List(dir); len(errs) != 1 || !errors.Is(errs[0], ErrUntrusted) {
		t.Fatalf("List problems = %v", errs)
	}

	// A file made writable after it was loaded is refused at the next
	// lookup, before any reload.
	if err := os.Chmod(filepath.Join(dir, "a.key"), 0o620); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(a); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup after chmod g+w = %v; want a refusal", err)
	}
}

func TestRegistryRefusesFileOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir := t.TempDir()
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	if err := os.Chown(filepath.Join(dir, "a.key"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(a); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup = %v; want a refusal", err)
	}
	if p := r.Problems(); len(p) != 1 || !strings.Contains(p[0].Error(), "owned by uid 65534") {
		t.Fatalf("Problems = %v", p)
	}
}

func TestRegistryRefusesWritableDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	os.Mkdir(dir, 0o755)
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(a); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup in a 0777 directory = %v; want a refusal", err)
	}
	st := r.Stats()
	if st.Bindings != 0 || !strings.Contains(st.DirError, "mode 0777 is writable by group or others") {
		t.Fatalf("Stats = %+v", st)
	}
	if _, errs := List(dir); len(errs) == 0 || !strings.Contains(errs[0].Error(), "registry directory refused") {
		t.Fatalf("List problems = %v", errs)
	}
	// Fixed: trusted again at the next reload.
	os.Chmod(dir, 0o755)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(a); err != nil {
		t.Fatal(err)
	}

	// A writable revoked/ could undo revocations: nothing is bound either.
	os.Mkdir(filepath.Join(dir, RevokedDir), 0o777)
	os.Chmod(filepath.Join(dir, RevokedDir), 0o777)
	r.Reload()
	if st := r.Stats(); st.Bindings != 0 || !strings.Contains(st.DirError, "revoked keys directory refused") {
		t.Fatalf("Stats with revoked/ 0777 = %+v", st)
	}
}

func TestRegistryRefusesSymlinkOutside(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	k := writeKeyFile(t, outside, "x.key", "principal", "OTHER$")
	if err := os.Symlink(filepath.Join(outside, "x.key"), filepath.Join(dir, "x.key")); err != nil {
		t.Fatal(err)
	}
	// A relative link that climbs out, too.
	l := writeKeyFile(t, outside, "y.key", "principal", "Y")
	rel, _ := filepath.Rel(dir, filepath.Join(outside, "y.key"))
	os.Symlink(rel, filepath.Join(dir, "y.key"))
	// A link that stays inside is followed.
	os.Mkdir(filepath.Join(dir, "store"), 0o755)
	in := writeKeyFile(t, filepath.Join(dir, "store"), "in.key", "principal", "IN")
	os.Symlink("store/in.key", filepath.Join(dir, "in.key"))

	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []PublicKey{k, l} {
		if _, err := r.Lookup(key); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("Lookup through a link out of the registry = %v; want a refusal", err)
		}
	}
	if b, err := r.Lookup(in); err != nil || b.Principal != "IN" {
		t.Errorf("Lookup through a link inside = %+v, %v", b, err)
	}
	p := r.Problems()
	if len(p) != 2 || !strings.Contains(p[0].Error()+p[1].Error(), "leaves the registry directory") || !errors.Is(p[0], ErrUntrusted) {
		t.Fatalf("Problems = %v", p)
	}
}

func TestRevokedLookupNamesPrincipal(t *testing.T) {
	dir := t.TempDir()
	a := writeKeyFile(t, dir, "a.key", "principal", "PROXY01$")
	if _, _, err := Revoke(dir, "PROXY01$"); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Lookup(a)
	var le *LookupError
	if !errors.As(err, &le) || le.Reason != ReasonRevoked || le.Principal != "PROXY01$" {
		t.Fatalf("Lookup = %#v; want ReasonRevoked naming PROXY01$", err)
	}
}
