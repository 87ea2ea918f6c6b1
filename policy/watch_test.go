package policy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

// watched opens file and runs Watch, without resync so only events count,
// until the test ends.
func watched(t *testing.T, file string, opts StoreOptions) *Store {
	t.Helper()
	opts.File = file
	opts.Logger = slog.New(slog.DiscardHandler)
	opts.Debounce = 20 * time.Millisecond
	opts.Resync = -1
	var loads int
	seen := make(chan struct{}, 1)
	opts.OnReload = func(ReloadEvent) {
		loads++
		if loads == 2 { // Watch's own first load: the watches are in place
			seen <- struct{}{}
		}
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Watch returned %v", err)
		}
	})
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher did not start")
	}
	return s
}

func rev(r string) string { return strings.Replace(fixture, "revision: r1", "revision: "+r, 1) }

func revisionIs(s *Store, r string) func() bool {
	return func() bool { return s.Status().Revision == r }
}

func TestWatchFileChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, rev("v1"))
	s := watched(t, path, StoreOptions{})

	// Written in place.
	writePolicy(t, path, rev("v2"))
	eventually(t, "an in-place write is loaded", revisionIs(s, "v2"))

	// Atomic rename over the file.
	replaceFile(t, path, []byte(rev("v3")))
	eventually(t, "a renamed file is loaded", revisionIs(s, "v3"))

	// vim-style save: the original moves to a backup, a new file is written.
	if err := os.Rename(path, path+"~"); err != nil {
		t.Fatal(err)
	}
	writePolicy(t, path, rev("v4"))
	eventually(t, "an editor save is loaded", revisionIs(s, "v4"))

	// A broken save keeps the last good policy, then a fix loads.
	writePolicy(t, path, "version: 1\nroles: [")
	eventually(t, "the failure is counted", func() bool { return s.Status().Failures > 0 })
	if st := s.Status(); st.Revision != "v4" || st.LastError == "" {
		t.Fatalf("status %+v", st)
	}
	if !s.Decide(groups(ops), req("proxy", "task.start")).Allow {
		t.Fatal("last good policy not serving")
	}
	writePolicy(t, path, rev("v5"))
	eventually(t, "the fixed file is loaded", revisionIs(s, "v5"))
	if st := s.Status(); st.LastError != "" {
		t.Errorf("error not cleared: %+v", st)
	}

	// Removed, then recreated.
	os.Remove(path)
	time.Sleep(50 * time.Millisecond)
	writePolicy(t, path, rev("v6"))
	eventually(t, "a recreated file is loaded", revisionIs(s, "v6"))

	// Unrelated files in the directory do not cause reloads.
	before := s.Status()
	writePolicy(t, filepath.Join(dir, "other.yaml"), "x")
	time.Sleep(100 * time.Millisecond)
	if after := s.Status(); after.Reloads != before.Reloads || after.Failures != before.Failures {
		t.Errorf("unrelated file changed the store: %+v -> %+v", before, after)
	}
}

// TestWatchHalfWrittenFile writes a file in two steps faster than the
// debounce: only the complete file is read.
func TestWatchHalfWrittenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, rev("v1"))
	s := watched(t, path, StoreOptions{})
	full := rev("v2")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{full[:len(full)/3], full[len(full)/3 : 2*len(full)/3], full[2*len(full)/3:]} {
		if _, err := f.WriteString(part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.Close()
	eventually(t, "the complete file is loaded", revisionIs(s, "v2"))
}

// TestWatchConfigMapSwap reproduces how Kubernetes updates a mounted
// ConfigMap: the file is a symlink through "..data" to a timestamped
// directory, and an update re-points "..data" with an atomic rename.
func TestWatchConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, src string) {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		writePolicy(t, filepath.Join(d, "policy.yaml"), src)
	}
	version("..2026_11_25_01", rev("cm1"))
	if err := os.Symlink("..2026_11_25_01", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policy.yaml")
	if err := os.Symlink("..data/policy.yaml", path); err != nil {
		t.Fatal(err)
	}
	s := watched(t, path, StoreOptions{})
	if s.Status().Revision != "cm1" {
		t.Fatal(s.Status())
	}
	swap := func(name, src, old string) {
		version(name, src)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(filepath.Join(dir, old))
	}
	swap("..2026_11_25_02", rev("cm2"), "..2026_11_25_01")
	eventually(t, "the first swap is loaded", revisionIs(s, "cm2"))
	swap("..2026_11_25_03", rev("cm3"), "..2026_11_25_02")
	eventually(t, "the second swap is loaded", revisionIs(s, "cm3"))
}

// TestWatchSymlinkTarget follows a file that is a symlink into another
// directory, changed in place there.
func TestWatchSymlinkTarget(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	target := filepath.Join(other, "current.yaml")
	writePolicy(t, target, rev("t1"))
	path := filepath.Join(dir, "policy.yaml")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	s := watched(t, path, StoreOptions{})
	writePolicy(t, target, rev("t2"))
	eventually(t, "a change to the target is loaded", revisionIs(s, "t2"))
}

// TestWatchSignatureArrivesLater: the policy is copied first and its
// signature second; the first attempt fails, the signature's arrival loads.
func TestWatchSignatureArrivesLater(t *testing.T) {
	dir := t.TempDir()
	keys := t.TempDir()
	priv, _ := newKey(t, keys, "sec")
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, rev("s1"))
	if _, err := SignFile(path, priv); err != nil {
		t.Fatal(err)
	}
	s := watched(t, path, StoreOptions{RequireSignature: true, TrustedKeyFiles: []string{filepath.Join(keys, "sec.pub")}})

	// Prepare the signed next version elsewhere, then copy file and
	// signature in two steps.
	staging := filepath.Join(keys, "policy.yaml")
	writePolicy(t, staging, rev("s2"))
	if _, err := SignFile(staging, priv); err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(staging + ".sig")
	replaceFile(t, path, []byte(rev("s2")))
	eventually(t, "the unsigned change is refused", func() bool { return s.Status().Failures > 0 })
	if s.Status().Revision != "s1" {
		t.Fatal("unsigned change serves")
	}
	replaceFile(t, path+".sig", sig)
	eventually(t, "the signed change is loaded", revisionIs(s, "s2"))
}

func TestStartTwiceAndClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, fixture)
	s, err := Open(StoreOptions{File: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	if err := s.Close(); err != nil || s.Close() != nil {
		t.Error("Close failed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Watch(ctx); err != nil {
		t.Errorf("Watch on a done context: %v", err)
	}
}
