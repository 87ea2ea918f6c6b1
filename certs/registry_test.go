package certs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// writeKeyFile writes a public certificate dir/file binding a new key with
// the given metadata name/value pairs, and returns the key.
func writeKeyFile(t testing.TB, dir, file string, meta ...string) PublicKey {
	t.Helper()
	pub, _, err := GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	writeKeyFileFor(t, dir, file, pub, meta...)
	return pub
}

// writeKeyFileFor writes a public certificate dir/file binding key.
func writeKeyFileFor(t testing.TB, dir, file string, key PublicKey, meta ...string) {
	t.Helper()
	c := &Cert{Public: key}
	for i := 0; i+1 < len(meta); i += 2 {
		c.Metadata.Set(meta[i], meta[i+1])
	}
	if err := c.SavePublic(filepath.Join(dir, file)); err != nil {
		t.Fatal(err)
	}
}

func fixedNow() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }

func TestRegistryLoad(t *testing.T) {
	dir := t.TempDir()
	a := writeKeyFile(t, dir, "a.key", "principal", "PROXY01$", "source", "TICKET-1", "note", "rack 4", "expires", "2026-11-25")
	expired := writeKeyFile(t, dir, "old.key", "principal", "OLD$", "expires", "2026-11-25T11:59:59Z")
	dup := writeKeyFile(t, dir, "dup1.key", "principal", "DUP1$")
	writeKeyFileFor(t, dir, "dup2.key", dup, "principal", "DUP2$")
	revoked := writeKeyFile(t, dir, "rev.key", "principal", "REV$")
	if err := os.Mkdir(filepath.Join(dir, RevokedDir), 0o755); err != nil {
		t.Fatal(err)
	}
	writeKeyFileFor(t, filepath.Join(dir, RevokedDir), "rev.key", revoked, "principal", "REV$")
	// Ignored: dotfiles, editor backups, other extensions, subdirectories.
	hidden := writeKeyFile(t, dir, ".hidden.key", "principal", "HIDDEN$")
	writeKeyFileFor(t, dir, "backup.key~", hidden, "principal", "HIDDEN$")
	writeKeyFileFor(t, dir, "notes.txt", hidden, "principal", "HIDDEN$")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeKeyFileFor(t, filepath.Join(dir, "sub"), "x.key", hidden, "principal", "HIDDEN$")
	// Skipped and counted: malformed, no principal, bad expiry, secret inside.
	os.WriteFile(filepath.Join(dir, "broken.key"), []byte("curve\n\tpublic-key = x\n"), 0o644)
	writeKeyFile(t, dir, "noprincipal.key", "source", "x")
	writeKeyFile(t, dir, "badexpiry.key", "principal", "X$", "expires", "tomorrow")
	c, _ := NewCert()
	c.Metadata.Set("principal", "SECRET$")
	sec, _ := c.MarshalSecret()
	os.WriteFile(filepath.Join(dir, "withsecret.key"), sec, 0o600)
	// Ignored with a warning: a secret certificate.
	os.WriteFile(filepath.Join(dir, "node.key_secret"), sec, 0o600)

	r, err := Open(dir, Options{Logger: quietLog, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Lookup(a)
	if err != nil {
		t.Fatal(err)
	}
	want := Binding{Key: a, Principal: "PROXY01$", Source: "TICKET-1", Note: "rack 4",
		Expires: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), File: filepath.Join(dir, "a.key")}
	if b != want {
		t.Fatalf("Lookup = %+v\nwant %+v", b, want)
	}

	_, err = r.Lookup(expired)
	var le *LookupError
	if !errors.Is(err, ErrExpired) || !errors.As(err, &le) || le.Principal != "OLD$" || le.Reason != ReasonExpired {
		t.Fatalf("expired key: %v", err)
	}
	_, err = r.Lookup(dup)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "dup1.key") || !strings.Contains(err.Error(), "dup2.key") {
		t.Fatalf("conflicting key: %v; want ErrConflict naming both files", err)
	}
	_, err = r.Lookup(revoked)
	if !errors.Is(err, ErrRevoked) || !errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrExpired) {
		t.Fatalf("revoked key: %v; want ErrRevoked, also matching ErrUnknownKey", err)
	}
	for _, k := range []PublicKey{hidden, {1, 2, 3}} {
		got, err := r.Lookup(k)
		if !errors.Is(err, ErrUnknownKey) || got != (Binding{}) {
			t.Fatalf("Lookup(ignored or unknown) = %+v, %v; want ErrUnknownKey", got, err)
		}
		if errors.Is(err, ErrExpired) || errors.Is(err, ErrConflict) {
			t.Fatal("a LookupError matches a sentinel of another reason")
		}
	}

	st := r.Stats()
	if st.Bindings != 2 || st.Skipped != 4 || st.Conflicts != 1 || st.Revoked != 1 || st.Loads != 1 || st.ReloadErrors != 0 {
		t.Fatalf("Stats = %+v", st)
	}
	problems := fmt.Sprint(r.Problems())
	for _, want := range []string{"broken.key:2: tab in indentation", "noprincipal.key: metadata principal: empty principal",
		"badexpiry.key: metadata expires", "withsecret.key: holds a secret key", "node.key_secret: secret certificate",
		"dup1.key, " + filepath.Join(dir, "dup2.key"), "rev.key: key " + revoked.Fingerprint() + " is revoked"} {
		if !strings.Contains(problems, want) {
			t.Errorf("Problems() lacks %q:\n%s", want, problems)
		}
	}
}

func TestLookupExpiryBoundary(t *testing.T) {
	dir := t.TempDir()
	k := writeKeyFile(t, dir, "a.key", "principal", "A", "expires", "2026-11-25")
	now := time.Date(2026, 11, 25, 23, 59, 59, 0, time.UTC)
	r, err := Open(dir, Options{Logger: quietLog, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(k); err != nil {
		t.Fatalf("last second of the expiry day: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := r.Lookup(k); !errors.Is(err, ErrExpired) {
		t.Fatalf("first second after the expiry day: %v; want ErrExpired", err)
	}
}

func TestParseExpires(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"2026-11-25", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), false},
		{"2026-12-31", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"2026-11-25T18:00:00Z", time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC), false},
		{"2026-11-25T18:00:00+02:00", time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC), false},
		{"2026-11-25 18:00", time.Time{}, true},
		{"25.11.2026", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := ParseExpires(tt.in)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("ParseExpires(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope"), Options{Logger: quietLog})
	if err == nil || !strings.Contains(err.Error(), "certs: read registry") {
		t.Fatalf("Open(missing) = %v", err)
	}
}

func TestLookupSeesRemovalAndChangeWithoutReload(t *testing.T) {
	dir := t.TempDir()
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	b := writeKeyFile(t, dir, "b.key", "principal", "B")
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	// Removal: refused at once, though no reload ran.
	if err := os.Remove(filepath.Join(dir, "a.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(a); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "a.key was removed") {
		t.Fatalf("Lookup after removal: %v; want ErrUnknownKey", err)
	}
	// Change of principal: the file is read again.
	os.Remove(filepath.Join(dir, "b.key"))
	writeKeyFileFor(t, dir, "b.key", b, "principal", "B2")
	if got, err := r.Lookup(b); err != nil || got.Principal != "B2" {
		t.Fatalf("Lookup after a change = %+v, %v; want principal B2", got, err)
	}
	// The file now binds another key: b is no longer bound by it.
	os.Remove(filepath.Join(dir, "b.key"))
	writeKeyFile(t, dir, "b.key", "principal", "B")
	if _, err := r.Lookup(b); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup after the key changed: %v; want ErrUnknownKey", err)
	}
	if r.Stats().Loads != 1 {
		t.Fatal("Lookup reloaded synchronously")
	}
}

func TestRevokeTakesEffectAtOnce(t *testing.T) {
	dir := t.TempDir()
	a := writeKeyFile(t, dir, "a.key", "principal", "PROXY01$")
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(a); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Revoke(dir, "PROXY01$"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(a); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup right after Revoke: %v; want a refusal", err)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(a); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Lookup after reload: %v; want ErrRevoked", err)
	}
}

func TestRevokedWinsOverBinding(t *testing.T) {
	dir := t.TempDir()
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	os.Mkdir(filepath.Join(dir, RevokedDir), 0o755)
	writeKeyFileFor(t, filepath.Join(dir, RevokedDir), "old.key", a)
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(a); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Lookup = %v; want ErrRevoked", err)
	}
}

// Issue 11 item 5: moving the registry away used to keep every key valid.
func TestRegistryGoneFailsClosed(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "keys")
	os.Mkdir(dir, 0o755)
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(parent, "keys.moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	// At once, before any reload: the binding's file is gone.
	if _, err := r.Lookup(a); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup with the directory moved away = %v; want ErrUnknownKey", err)
	}
	if err := r.Reload(); err == nil {
		t.Fatal("Reload of a moved directory succeeded")
	}
	if st := r.Stats(); !st.Missing || st.Bindings != 0 || st.ReloadErrors != 1 {
		t.Fatalf("Stats = %+v; want Missing and no bindings", st)
	}
	if p := r.Problems(); len(p) != 1 || !strings.Contains(p[0].Error(), "is gone; no key is bound") {
		t.Fatalf("Problems = %v", p)
	}
	if _, err := r.Lookup(a); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup after the reload = %v; want ErrUnknownKey", err)
	}
	// It comes back: bound again.
	if err := os.Rename(moved, dir); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if b, err := r.Lookup(a); err != nil || b.Principal != "A" || r.Stats().Missing {
		t.Fatalf("Lookup with the directory back = %+v, %v", b, err)
	}
}

func TestRevokedDirUnreadableFailsReload(t *testing.T) {
	dir := t.TempDir()
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	// revoked/ that cannot be read as a directory (a file; mode 000 would
	// not stop root): revocations cannot be known, so the reload fails and
	// the last good state stays.
	if err := os.WriteFile(filepath.Join(dir, RevokedDir), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("Reload = %v; want an error about revoked/", err)
	}
	if _, err := r.Lookup(a); err != nil {
		t.Fatal(err)
	}
}

func TestLookupConcurrentWithReloads(t *testing.T) {
	dir := t.TempDir()
	var keys []PublicKey
	for i := range 20 {
		keys = append(keys, writeKeyFile(t, dir, fmt.Sprintf("k%d.key", i), "principal", fmt.Sprintf("P%d", i)))
	}
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := keys[(g+i)%len(keys)]
				b, err := r.Lookup(k)
				if err != nil || b.Key != k {
					errs <- fmt.Errorf("Lookup = %+v, %v", b, err)
					return
				}
			}
		}()
	}
	for range 20 {
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func BenchmarkLookup(b *testing.B) {
	dir := b.TempDir()
	var keys []PublicKey
	for i := range 100 {
		keys = append(keys, writeKeyFile(b, dir, fmt.Sprintf("k%d.key", i), "principal", fmt.Sprintf("P%d", i)))
	}
	r, err := Open(dir, Options{Logger: quietLog})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := r.Lookup(keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
