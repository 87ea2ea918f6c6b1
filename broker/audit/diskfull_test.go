package audit

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The disk-full tests make writes fail for real: a tiny tmpfs filled to
// the brim (needs root, as on CI), or a file size limit (RLIMIT_FSIZE,
// any user). Either way Append must fail, grants must stop, the failure
// must show in logs, stats and health, and once space is back the log must
// recover on its own, record the outage and still verify.

// grant is what the ZAP authenticator does: it answers 200 only if the
// record is durable (or the log fails open).
func grant(l *Log, i int) (bool, error) {
	_, err := l.Append(context.Background(), sampleRecord(i))
	return MayProceed(err), err
}

// diskFull runs the scenario on dir; fill makes the next writes fail and
// free makes room again.
func diskFull(t *testing.T, dir string, fill, free func()) {
	opts, logs := testOptions(t, dir)
	l := openLog(t, opts)
	appendN(t, l, 5)
	fill()
	var failed error
	for i := 0; i < 50 && failed == nil; i++ {
		if ok, err := grant(l, i); !ok {
			failed = err
		}
	}
	if failed == nil {
		t.Fatal("appends kept succeeding on a full disk")
	}
	if !errors.Is(failed, ErrUnavailable) || errors.Is(failed, ErrFailOpen) {
		t.Fatalf("error %v", failed)
	}
	t.Logf("append on a full disk: %v", failed)
	for i := 0; i < 3; i++ {
		if ok, _ := grant(l, i); ok {
			t.Fatal("a grant went through while the log could not be written")
		}
	}
	h, st := l.Health(), l.Stats()
	if h.OK || h.Status != "failing" || h.Error == "" || st.Failures == 0 || st.Refused < 4 {
		t.Fatalf("health %+v stats %+v", h, st)
	}
	if out := logs.String(); !strings.Contains(out, "AUDIT LOG CANNOT BE WRITTEN") || !strings.Contains(out, "component=audit") {
		t.Fatalf("failure not logged loudly:\n%s", out)
	}
	free()
	waitFor(t, "the log to recover by itself", func() bool { return l.Health().OK })
	if ok, err := grant(l, 99); !ok {
		t.Fatalf("grant after space returned: %v", err)
	}
	must(t, l.Close())
	res := mustVerify(t, dir)
	var outage *Record
	files, _, _ := ResolvePaths([]string{dir})
	must(t, Scan(files, ScanOptions{}, func(e *Entry) error {
		if e.Record.Action == ActionOutage {
			r := e.Record
			outage = &r
		}
		return nil
	}))
	if outage == nil || outage.Severity != SeverityCritical || !strings.Contains(outage.Reason, "records were refused") {
		t.Fatalf("outage record %+v", outage)
	}
	if !strings.Contains(logs.String(), "audit log writable again") {
		t.Error("recovery not logged")
	}
	t.Logf("outage record: %s (log verifies, %d records)", outage.Reason, res.Records)
}

func TestDiskFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=128k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("mount tmpfs as root failed: %v: %s", err, out)
		}
		t.Skipf("not root: cannot mount a tmpfs (%s); TestDiskFullFileSizeLimit covers the same path", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	logDir := filepath.Join(dir, "audit")
	filler := filepath.Join(dir, "filler")
	fill := func() {
		f, err := os.Create(filler)
		must(t, err)
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling: %v", err)
				}
				return
			}
		}
	}
	diskFull(t, logDir, fill, func() { must(t, os.Remove(filler)) })
}

func TestDiskFullFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	var orig syscall.Rlimit
	must(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig))
	restore := func() { must(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &orig)) }
	t.Cleanup(restore)
	fill := func() {
		var size int64
		for _, p := range segmentPaths(t, dir) {
			fi, err := os.Stat(p)
			must(t, err)
			size = max(size, fi.Size())
		}
		lim := syscall.Rlimit{Cur: uint64(size + 1000), Max: orig.Max}
		must(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	}
	diskFull(t, dir, fill, restore)
}

func TestFailOpenKeepsGrantingAndWritesLate(t *testing.T) {
	dir := t.TempDir()
	var orig syscall.Rlimit
	must(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig))
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &orig) })
	opts, _ := testOptions(t, dir)
	opts.FailOpen = true
	l := openLog(t, opts)
	appendN(t, l, 3)
	fi, err := os.Stat(segmentPaths(t, dir)[0])
	must(t, err)
	must(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(fi.Size() + 100), Max: orig.Max}))
	late := 0
	for i := 0; i < 5; i++ {
		ok, err := grant(l, i)
		if !ok || !errors.Is(err, ErrFailOpen) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("fail-open grant %d: ok %v err %v", i, ok, err)
		}
		late++
	}
	if h := l.Health(); h.OK || !h.FailOpen {
		t.Fatalf("health %+v", h)
	}
	must(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &orig))
	waitFor(t, "recovery", func() bool { return l.Health().OK })
	must(t, l.Close())
	res := mustVerify(t, dir)
	// 3 + outage + 5 late + close checkpoint.
	if res.Records != uint64(3+1+late+1) {
		t.Fatalf("records %d: %+v", res.Records, res)
	}
}
