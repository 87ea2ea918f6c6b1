package certs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// eventually polls cond until it holds or a 10 s deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// watch opens dir and runs Watch until the test ends.
func watch(t *testing.T, dir string, opts Options) *Registry {
	t.Helper()
	opts.Logger = quietLog
	if opts.Debounce == 0 {
		opts.Debounce = 20 * time.Millisecond
	}
	r, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v", err)
		}
	})
	// Watch reloads once its watches are in place.
	eventually(t, "the watcher started", func() bool { return r.Stats().Loads >= 2 })
	return r
}

func lookupErr(r *Registry, k PublicKey) error {
	_, err := r.Lookup(k)
	return err
}

func TestWatchFollowsChanges(t *testing.T) {
	dir := t.TempDir()
	r := watch(t, dir, Options{})

	// Added file.
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	eventually(t, "the added key is bound", func() bool { return lookupErr(r, a) == nil })
	if r.Stats().Bindings != 1 {
		t.Fatalf("Stats = %+v", r.Stats())
	}

	// Malformed file: skipped and counted, the rest stays.
	os.WriteFile(filepath.Join(dir, "bad.key"), []byte("curve\n  public-key = x\n"), 0o644)
	eventually(t, "the malformed file is counted", func() bool { return r.Stats().Skipped == 1 })
	if err := lookupErr(r, a); err != nil {
		t.Fatal(err)
	}

	// Second file with the same key: neither is trusted.
	writeKeyFileFor(t, dir, "a2.key", a, "principal", "A2")
	eventually(t, "the conflict is seen", func() bool { return errors.Is(lookupErr(r, a), ErrConflict) })

	// Resolve the conflict by removing one file.
	os.Remove(filepath.Join(dir, "a2.key"))
	eventually(t, "the conflict is resolved", func() bool { return lookupErr(r, a) == nil })

	// Revoke through the admin operation: refused at once, then reported as
	// revoked once the watcher reloaded.
	if _, _, err := Revoke(dir, "A"); err != nil {
		t.Fatal(err)
	}
	if err := lookupErr(r, a); err == nil {
		t.Fatal("revoked key still accepted")
	}
	eventually(t, "the key is reported revoked", func() bool { return errors.Is(lookupErr(r, a), ErrRevoked) })

	// A file dropped straight into revoked/ is followed too.
	b := writeKeyFile(t, dir, "b.key", "principal", "B")
	eventually(t, "b is bound", func() bool { return lookupErr(r, b) == nil })
	writeKeyFileFor(t, filepath.Join(dir, RevokedDir), "b.key", b)
	eventually(t, "b is revoked", func() bool { return errors.Is(lookupErr(r, b), ErrRevoked) })
}

func TestWatchDirectoryDeletedFailsClosed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	os.Mkdir(dir, 0o755)
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	r := watch(t, dir, Options{Resync: -1})

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the registry is reported missing", func() bool { return r.Stats().Missing })
	if st := r.Stats(); st.Bindings != 0 {
		t.Fatalf("Stats = %+v; want no binding", st)
	}
	if err := lookupErr(r, a); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup = %v; want ErrUnknownKey", err)
	}

	// The directory comes back with other content: it is followed again.
	os.Mkdir(dir, 0o755)
	c := writeKeyFile(t, dir, "c.key", "principal", "C")
	eventually(t, "the recreated directory is read", func() bool { return lookupErr(r, c) == nil && !r.Stats().Missing })
	if err := lookupErr(r, a); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup(a) = %v; want ErrUnknownKey", err)
	}
	d := writeKeyFile(t, dir, "d.key", "principal", "D")
	eventually(t, "a file added to the recreated directory is seen", func() bool { return lookupErr(r, d) == nil })
}

func TestWatchIgnoresTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	r := watch(t, dir, Options{Resync: -1})
	loads := r.Stats().Loads
	os.WriteFile(filepath.Join(dir, ".x.key.tmp-1"), []byte("junk"), 0o644)
	os.WriteFile(filepath.Join(dir, "x.key~"), []byte("junk"), 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("junk"), 0o644)
	// A real change afterwards is the only reload.
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	eventually(t, "a is bound", func() bool { return lookupErr(r, a) == nil })
	time.Sleep(100 * time.Millisecond)
	if got := r.Stats().Loads - loads; got != 1 {
		t.Fatalf("%d reloads; want 1 (temporary files must not trigger reloads)", got)
	}
	if r.Stats().Skipped != 0 {
		t.Fatalf("Stats = %+v", r.Stats())
	}
}

func TestStartClose(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir, Options{Logger: quietLog, Debounce: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close without Start: %v", err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	a := writeKeyFile(t, dir, "a.key", "principal", "A")
	eventually(t, "the started watcher sees a.key", func() bool { return lookupErr(r, a) == nil })
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	loads := r.Stats().Loads
	writeKeyFile(t, dir, "b.key", "principal", "B")
	time.Sleep(100 * time.Millisecond)
	if r.Stats().Loads != loads {
		t.Fatal("the watcher still runs after Close")
	}
	if err := lookupErr(r, a); err != nil {
		t.Fatalf("Lookup after Close: %v", err)
	}
}
