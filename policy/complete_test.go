package policy

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stallFixture is fixture with tests after deny:, under revision rt-1.
var stallFixture = strings.Replace(fixture, "revision: r1", "revision: rt-1", 1) + `tests:
  - name: quarantine cannot connect
    identity: {groups: ["CN=Quarantine,OU=Groups,DC=corp,DC=example,DC=com", "CN=Ops,OU=Groups,DC=corp,DC=example,DC=com"]}
    action: {kind: connect, source: 10.20.0.1}
    expect: deny
`

// TestWatchStalledWriterKeepsDeny is issue 11 item 4: a writer rewrites
// the policy in place and stalls, file still open, right after the line
// before "deny:". The truncated file parses (same revision, no deny, no
// tests) but must not be loaded: a quarantined node stays denied during
// the stall, and the complete file loads once the writer closes it.
func TestWatchStalledWriterKeepsDeny(t *testing.T) {
	if ok, err := openForWriting(os.Args[0]); ok || err != nil {
		t.Skipf("open-for-writing detection unavailable here (file leases): %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, stallFixture)
	s := watched(t, path, StoreOptions{})
	quarantined := groups(quarantine, ops)
	if s.Decide(quarantined, connectFrom("10.20.0.1")).Allow {
		t.Fatal("quarantined node allowed before the write")
	}

	next := stallFixture + "# reviewed\n"
	cut := strings.Index(next, "deny:\n")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(next[:cut]); err != nil {
		t.Fatal(err)
	}
	// Stall well past the debounce (20ms, at most 200ms per burst) and
	// the settle interval.
	for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if d := s.Decide(quarantined, connectFrom("10.20.0.1")); d.Allow {
			t.Fatalf("during the stall the truncated policy serves: %v (status %+v)", d, s.Status())
		}
	}
	if _, err := f.WriteString(next[cut:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := mustParse(t, next).Hash()
	eventually(t, "the complete file is loaded once closed", func() bool { return s.Status().Hash == want })
	if s.Decide(quarantined, connectFrom("10.20.0.1")).Allow {
		t.Fatal("quarantined node allowed after the write")
	}
}

// TestWatchLoadsAfterLateClose: the writer writes the whole file, then
// keeps it open past the debounce before closing it. Closing sends no
// event; Watch keeps retrying and loads the file once it is closed.
func TestWatchLoadsAfterLateClose(t *testing.T) {
	if ok, err := openForWriting(os.Args[0]); ok || err != nil {
		t.Skipf("open-for-writing detection unavailable here (file leases): %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, rev("c1"))
	s := watched(t, path, StoreOptions{})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(rev("c2")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if r := s.Status().Revision; r != "c1" {
		t.Fatalf("revision %s loaded while the file is open for writing", r)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the file is loaded after close", revisionIs(s, "c2"))
}

// TestReadCompleteSettle: a file that keeps changing (each write opened,
// written and closed) is not loaded while it changes; the last good
// policy serves, and the file loads once it has settled.
func TestReadCompleteSettle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, rev("s0"))
	s, err := Open(StoreOptions{File: path, Settle: 100 * time.Millisecond, Resync: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan string)
	go func() {
		last := ""
		for i := 1; ; i++ {
			select {
			case <-stop:
				done <- last
				return
			case <-time.After(10 * time.Millisecond):
			}
			last = fmt.Sprintf("s%d", i)
			if err := os.WriteFile(path, []byte(rev(last)), 0o644); err != nil {
				t.Error(err)
			}
		}
	}()
	err = s.Reload()
	close(stop)
	last := <-done
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Reload of a changing file: %v", err)
	}
	if st := s.Status(); st.Revision != "s0" || st.Failures != 1 {
		t.Fatalf("status %+v", st)
	}
	if err := s.Reload(); err != nil || s.Status().Revision != last {
		t.Fatalf("settled file not loaded: %v, %+v, want %s", err, s.Status(), last)
	}
}

// TestReloadReportsHashAndWeakening: a reload that keeps the revision but
// drops the deny rules and tests reports both content hashes and what
// was removed, with the policy diff.
func TestReloadReportsHashAndWeakening(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, stallFixture)
	var events []ReloadEvent
	s, err := Open(StoreOptions{File: path, Settle: time.Millisecond, Resync: -1, Logger: slog.New(slog.DiscardHandler),
		OnReload: func(ev ReloadEvent) { events = append(events, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	old := s.Policy()
	if h := old.ContentHash(); !strings.HasPrefix(h, "sha256:") || len(h) != len("sha256:")+16 || !strings.HasPrefix(old.Hash(), h[7:]) {
		t.Fatalf("ContentHash %q of %s", h, old.Hash())
	}
	if d := s.Decide(groups(ops), connectFrom("10.20.0.1")); d.PolicyHash != old.ContentHash() || d.Revision != "rt-1" {
		t.Fatalf("decision %+v", d)
	}
	replaceFile(t, path, []byte(stallFixture[:strings.Index(stallFixture, "deny:\n")]))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	ev := events[len(events)-1]
	if !ev.Changed || ev.Revision != "rt-1" || ev.Previous != "rt-1" || ev.PreviousHash != old.ContentHash() ||
		ev.Hash != s.Policy().ContentHash() || ev.Hash == ev.PreviousHash {
		t.Fatalf("event %+v", ev)
	}
	w := ev.Weakened
	if w == nil || len(w.Deny) != 5 || len(w.Tests) != 1 || w.Tests[0] != "quarantine cannot connect" ||
		!strings.Contains(w.Deny[0], "Quarantine") || !strings.Contains(w.Diff, "deny -> ALLOW") ||
		w.Summary() != "removed 5 deny rules, 1 test" {
		t.Fatalf("weakening %+v", w)
	}

	// Putting them back, or reordering deny rules, is no weakening.
	replaceFile(t, path, []byte(stallFixture))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if ev := events[len(events)-1]; !ev.Changed || ev.Weakened != nil {
		t.Fatalf("restoring reported %+v", ev)
	}
}
