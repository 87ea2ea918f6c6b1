package static

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/idp"
)

const sample = `version: 1
groups:
  "CN=Proxies,DC=corp":
    member_of: ["CN=Nodes,DC=corp"]
  "CN=Nodes,DC=corp":
    member_of: ["CN=All,DC=corp", "CN=Proxies,DC=corp"]   # a cycle ends
principals:
  "PROXY01$":
    display_name: Proxy 01
    groups: ["CN=Proxies,DC=corp", "okta:extra"]
  "OLD$":
    enabled: false
    groups: []
`

func write(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, data string) (*Directory, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "directory.yaml")
	write(t, path, data)
	d, err := Open(path, Options{Debounce: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func TestLookup(t *testing.T) {
	d, _ := open(t, sample)
	id, err := d.Lookup(context.Background(), "PROXY01$")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CN=Proxies,DC=corp", "CN=Nodes,DC=corp", "CN=All,DC=corp", "okta:extra"}
	if !slices.Equal(id.Groups, want) {
		t.Errorf("groups = %q, want %q", id.Groups, want)
	}
	if !id.Enabled || id.DisplayName != "Proxy 01" || id.Source != "static" || id.FetchedAt.IsZero() {
		t.Errorf("identity = %+v", id)
	}
	old, err := d.Lookup(context.Background(), "OLD$")
	if err != nil || old.Enabled {
		t.Errorf("OLD$ = %+v, %v; want disabled", old, err)
	}
	if _, err := d.Lookup(context.Background(), "proxy01$"); !errors.Is(err, idp.ErrNotFound) {
		t.Errorf("lookup is case-sensitive: err = %v", err)
	}
	// Callers cannot modify the directory through a returned identity.
	id.Groups[0] = "CN=Admins"
	again, _ := d.Lookup(context.Background(), "PROXY01$")
	if again.Groups[0] != "CN=Proxies,DC=corp" {
		t.Error("returned groups alias the directory's state")
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown key", "version: 1\nprincipals:\n  A:\n    grops: [x]\n", "d.yaml:4:"},
		{"bad version", "version: 2\nprincipals: {}\n", "d.yaml:1: version must be 1"},
		{"duplicate principal", "version: 1\nprincipals:\n  A: {}\n  A: {}\n", "d.yaml:4:"},
		{"empty group", "version: 1\nprincipals:\n  A:\n    groups: [\"\"]\n", "d.yaml:3: principal \"A\": empty group name"},
		{"empty file", "", "empty file"},
		{"wrong type", "version: 1\nprincipals:\n  A:\n    enabled: maybe\n", "d.yaml:4:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("d.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestReloadKeepsLastGood(t *testing.T) {
	d, path := open(t, sample)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	write(t, path, "version: 1\nprincipals:\n  A: {bogus: 1}\n")
	waitFor(t, func() bool { return d.Status().Failures > 0 })
	if _, err := d.Lookup(context.Background(), "PROXY01$"); err != nil {
		t.Fatalf("last good version lost: %v", err)
	}
	if d.Status().LastError == nil {
		t.Error("status does not report the failure")
	}
	write(t, path, "version: 1\nprincipals:\n  NEW$: {groups: [g]}\n")
	waitFor(t, func() bool {
		_, err := d.Lookup(context.Background(), "NEW$")
		return err == nil
	})
	if _, err := d.Lookup(context.Background(), "PROXY01$"); !errors.Is(err, idp.ErrNotFound) {
		t.Errorf("removed principal still served: %v", err)
	}
	if d.Status().LastError != nil {
		t.Error("good reload did not clear the error")
	}
}

// TestSymlinkSwap follows a Kubernetes ConfigMap style update: the file is
// a symlink through ..data, which is atomically repointed.
func TestSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"v1", "v2"} {
		if err := os.Mkdir(filepath.Join(dir, v), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "v1", "directory.yaml"), []byte("version: 1\nprincipals:\n  ONE$: {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "v2", "directory.yaml"), []byte("version: 1\nprincipals:\n  TWO$: {}\n"), 0o644)
	os.Symlink("v1", filepath.Join(dir, "..data"))
	os.Symlink("..data/directory.yaml", filepath.Join(dir, "directory.yaml"))
	d, err := Open(filepath.Join(dir, "directory.yaml"), Options{Debounce: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	os.Symlink("v2", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := d.Lookup(context.Background(), "TWO$")
		return err == nil
	})
}

func TestConcurrentLookupsDuringReload(t *testing.T) {
	d, path := open(t, "version: 1\nprincipals:\n  A$: {groups: [g1]}\n")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, err := d.Lookup(context.Background(), "A$")
				if err != nil || len(id.Groups) != 1 || (id.Groups[0] != "g1" && id.Groups[0] != "g2") {
					t.Errorf("torn answer: %+v %v", id, err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		write(t, path, "version: 1\nprincipals:\n  A$: {groups: [g"+string(rune('1'+i%2))+"]}\n")
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
}

func TestOpenMissingFile(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope.yaml"), Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("version: 1\nprincipals:\n  A: {enabled: false}\n"))
	f.Add([]byte("version: 1\ngroups:\n  a: {member_of: [a, b]}\n  b: {member_of: [a]}\nprincipals:\n  X: {groups: [a]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parse("f.yaml", data)
		if err != nil {
			if m != nil {
				t.Fatal("entries returned with an error")
			}
			return
		}
		for p, e := range m {
			seen := map[string]bool{}
			for _, g := range e.groups {
				if seen[g] {
					t.Fatalf("%q: group %q listed twice", p, g)
				}
				seen[g] = true
			}
		}
	})
}
