package flood

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tmpfs mounts a small tmpfs (needs root, as on CI) so that free space
// is under the test's control.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("mount tmpfs as root failed: %v: %s", err, out)
		}
		t.Skipf("not root: cannot mount a tmpfs (%s)", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func TestReserveBelowCountsOnly(t *testing.T) {
	dir := tmpfs(t, "1m")
	r := NewReserve(dir, 512<<10, nil)
	if r.Low() || r.Check() != nil {
		t.Fatalf("an empty 1 MiB filesystem is below a 512 KiB reserve: %+v", r.Status())
	}
	s := &sink{}
	a := newAgg(t, s, AggregatorOptions{Reserve: r})
	if !a.Refuse(refusal("192.0.2.1", 0)) {
		t.Fatal("above the reserve a first refusal is not written")
	}
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, 700<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	st := r.Status()
	if !st.Low || st.LowEvents != 1 || r.Check() == nil {
		t.Fatalf("status after filling: %+v", st)
	}
	for i := 1; i < 50; i++ {
		if a.Refuse(refusal("192.0.2.1", i)) || a.Refuse(refusal("192.0.2.2", i)) {
			t.Fatal("below the reserve a refusal was written in full")
		}
	}
	a.Flush()
	recs := s.records()
	if len(recs) != 2 || !strings.Contains(recs[1].Reason, "counted=98 ") || !strings.Contains(recs[1].Reason, "sources=2") || recs[1].SourceIP.IsValid() {
		t.Fatalf("below the reserve: %+v", recs)
	}
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	if r.Status().Low {
		t.Fatal("still low after freeing space")
	}
}

func TestReserveOff(t *testing.T) {
	if NewReserve(t.TempDir(), 0, nil).Low() {
		t.Fatal("a zero reserve is low")
	}
	var r *Reserve
	if r.Low() || r.Check() != nil {
		t.Fatal("a nil reserve is low")
	}
}
