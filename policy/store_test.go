package policy

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// replaceFile writes data to path atomically (temporary file and rename).
func replaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestStoreKeepsLastGoodPolicy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, fixture)
	log, logs := testLogger()
	var events []ReloadEvent
	s, err := Open(StoreOptions{File: path, Logger: log, OnReload: func(e ReloadEvent) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if st.Revision != "r1" || st.Reloads != 0 || st.Failures != 0 || st.LastError != "" || st.LoadedAt.IsZero() || st.File != path {
		t.Fatalf("status after open: %+v", st)
	}
	allow := func() bool { return s.Decide(groups(ops), req("proxy", "task.start")).Allow }
	if !allow() {
		t.Fatal("fixture denies operator")
	}

	// Invalid, half-written and test-failing files are refused one by one.
	bad := map[string]string{
		"invalid":      strings.Replace(fixture, "revision: r1", "revision: r2\nbogus: 1", 1),
		"half-written": fixture[:len(fixture)/2],
		"failing test": strings.Replace(fixture, "revision: r1", "revision: r3", 1) + "tests:\n  - {name: t, identity: {}, action: {kind: connect}, expect: allow}\n",
		"empty":        "",
	}
	n := uint64(0)
	for name, src := range bad {
		writePolicy(t, path, src)
		if err := s.Reload(); err == nil {
			t.Fatalf("%s: reload accepted", name)
		}
		n++
		st := s.Status()
		if st.Revision != "r1" || st.Failures != n || st.LastError == "" || st.Reloads != 0 || !allow() {
			t.Fatalf("%s: status %+v", name, st)
		}
	}
	os.Remove(path)
	if err := s.Reload(); err == nil || !allow() {
		t.Fatalf("missing file: %v", err)
	}

	// A good file is swapped in and clears the error.
	writePolicy(t, path, strings.Replace(fixture, "revision: r1", "revision: r9", 1))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	st = s.Status()
	if st.Revision != "r9" || st.Reloads != 1 || st.LastError != "" || st.Failures != n+1 {
		t.Fatalf("status after fix: %+v", st)
	}
	// Reloading the same bytes changes nothing.
	if err := s.Reload(); err != nil || s.Status().Reloads != 1 {
		t.Fatalf("unchanged reload: %v %+v", err, s.Status())
	}
	if got := s.Roles(groups(ops)); len(got) != 1 || got[0] != "operator" || s.Policy().Revision() != "r9" {
		t.Errorf("Roles = %v", got)
	}

	out := logs.String()
	for _, want := range []string{"component=policy", "policy reload failed; the last good policy keeps serving", "revision=r9", "previous=r1"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if len(events) != int(n)+4 || events[0].Trigger != "open" || !events[0].Changed || events[1].Err == nil || events[len(events)-2].Revision != "r9" {
		t.Errorf("events: %+v", events)
	}
}

func TestStoreOpenFails(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(StoreOptions{File: filepath.Join(dir, "none.yaml")}); err == nil {
		t.Error("opened a missing file")
	}
	path := filepath.Join(dir, "p.yaml")
	writePolicy(t, path, "version: 1\ntests:\n  - {name: t, identity: {}, action: {kind: connect}, expect: allow}\n")
	if _, err := Open(StoreOptions{File: path}); !errors.Is(err, ErrTestsFailed) {
		t.Errorf("opened a policy whose tests fail: %v", err)
	}
}

func TestStoreRequiresSignature(t *testing.T) {
	dir := t.TempDir()
	priv, _ := newKey(t, dir, "sec")
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, fixture)
	opts := StoreOptions{File: path, RequireSignature: true, TrustedKeyFiles: []string{filepath.Join(dir, "sec.pub")}, Logger: slog.New(slog.DiscardHandler)}
	if _, err := Open(opts); !errors.Is(err, ErrNoSignature) {
		t.Fatalf("unsigned open: %v", err)
	}
	if _, err := SignFile(path, priv); err != nil {
		t.Fatal(err)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.SignedBy == "" {
		t.Errorf("status %+v", st)
	}
	// Someone widens the policy on the broker host: refused.
	writePolicy(t, path, strings.Replace(fixture, `"10.20.0.0/16"`, `"0.0.0.0/0"`, 1))
	if err := s.Reload(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered reload: %v", err)
	}
	if s.Decide(groups(ops), connectFrom("203.0.113.9")).Allow {
		t.Fatal("tampered policy serves")
	}
	// The security team signs the change: accepted.
	if _, err := SignFile(path, priv); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if !s.Decide(groups(ops), connectFrom("203.0.113.9")).Allow {
		t.Fatal("signed change not applied")
	}
	// A trusted key file that disappears makes the reload fail safe.
	os.Remove(filepath.Join(dir, "sec.pub"))
	writePolicy(t, path, fixture)
	if err := s.Reload(); err == nil || s.Status().LastError == "" {
		t.Fatal("reload without trusted key succeeded")
	}
}

// TestConcurrentDecisionsDuringReload checks, under -race, that every
// decision made while the policy is swapped back and forth matches one of
// the two policies entirely.
func TestConcurrentDecisionsDuringReload(t *testing.T) {
	srcA := strings.Replace(fixture, "revision: r1", "revision: A", 1)
	srcB := strings.NewReplacer("revision: r1", "revision: B", `"task.*"`, `"task.stop"`, "okta:no-delete", "okta:readers",
		"{group: \"CN=Quarantine,OU=Groups,DC=corp,DC=example,DC=com\", reason: incident}", "{group: \"workers\"}").Replace(fixture)
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	pa, errA := Parse(path, []byte(srcA))
	pb, errB := Parse(path, []byte(srcB))
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	type probe struct {
		s Subject
		a Action
	}
	probes := []probe{
		{groups(ops), req("proxy", "task.start")},
		{groups(ops), req("proxy", "task.stop")},
		{groups(ops, "okta:readers"), req("proxy", "repo.delete")},
		{groups(quarantine, ops), connectFrom("10.20.1.1")},
		{groups("workers"), Action{Kind: Serve, Service: "proxy"}},
		{Subject{Principal: "PROXY01$", Groups: []string{"okta:readers"}}, Action{Kind: Subscribe, Topic: "job.x"}},
	}
	differ := 0
	for _, pr := range probes {
		if pa.Decide(pr.s, pr.a).Allow != pb.Decide(pr.s, pr.a).Allow {
			differ++
		}
	}
	if differ < 3 {
		t.Fatalf("only %d probes tell the policies apart", differ)
	}

	writePolicy(t, path, srcA)
	s, err := Open(StoreOptions{File: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var decisions atomic.Int64
	errc := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				pr := probes[i%len(probes)]
				d := s.Decide(pr.s, pr.a)
				var want Decision
				switch d.Revision {
				case "A":
					want = pa.Decide(pr.s, pr.a)
				case "B":
					want = pb.Decide(pr.s, pr.a)
				default:
					errc <- fmt.Errorf("decision from unknown revision %q", d.Revision)
					return
				}
				if d.Allow != want.Allow || d.Rule != want.Rule || strings.Join(d.Roles, ",") != strings.Join(want.Roles, ",") {
					errc <- fmt.Errorf("revision %s decided %v; that policy decides %v", d.Revision, d, want)
					return
				}
				decisions.Add(1)
			}
		}()
	}
	for i := 0; i < 200; i++ {
		src := srcA
		if i%2 == 0 {
			src = srcB
		}
		if i%10 == 5 {
			replaceFile(t, path, []byte("version: 1\nbroken"))
			if s.Reload() == nil {
				t.Error("broken file accepted")
			}
		}
		replaceFile(t, path, []byte(src))
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if st := s.Status(); st.Reloads != 200 || st.Failures != 20 {
		t.Errorf("status %+v", st)
	}
	if decisions.Load() == 0 {
		t.Error("no decisions made")
	}
}
