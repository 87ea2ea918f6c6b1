package server

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/internal/actor"
	"github.com/zapgate/zapgate/policy"
)

// TestAuditReloadRecords: every policy.reload record carries the content
// hash beside the revision, before and after, so an in-place change
// under the same revision shows; a reload that removed deny rules or
// tests is a warning naming them with the policy diff.
func TestAuditReloadRecords(t *testing.T) {
	dir := t.TempDir()
	log, err := audit.Open(audit.Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	auditReload(log, quiet, policy.ReloadEvent{Trigger: "open", Revision: "rt-1", Hash: "sha256:1111111111111111"}, "")
	auditReload(log, quiet, policy.ReloadEvent{Trigger: "watch", Revision: "rt-1", Previous: "rt-1",
		Hash: "sha256:2222222222222222", PreviousHash: "sha256:1111111111111111", Changed: true,
		Weakened: &policy.Weakening{Deny: []string{`group "CN=Quarantine": every action`}, Tests: []string{"quarantine cannot connect"},
			Diff: "compared 3 identities x 4 actions: revision rt-1 -> rt-1\n\n1 decision changes:\n  group \"CN=Quarantine\"\n    deny -> ALLOW  connect\n"}}, actor.FileOwner(dir))
	auditReload(log, quiet, policy.ReloadEvent{Trigger: "reload", Revision: "rt-1", Previous: "rt-1",
		Hash: "sha256:2222222222222222", PreviousHash: "sha256:2222222222222222", Err: errors.New("policy: bad")}, "")
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, audit.MaxLineBytes)
		for sc.Scan() {
			r, err := audit.ParseRecord(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if r.Action == audit.ActionPolicyReload {
				recs = append(recs, r)
			}
		}
		fh.Close()
	}
	if len(recs) != 3 {
		t.Fatalf("%d policy.reload records, want 3: %+v", len(recs), recs)
	}
	if r := recs[0]; r.PolicyHash != "sha256:1111111111111111" || r.Ruleset != "rt-1" || r.Outcome != audit.OutcomeSuccess {
		t.Errorf("open record %+v", r)
	}
	r := recs[1]
	for _, want := range []string{`watch: revision rt-1 sha256:2222222222222222 (was "rt-1" sha256:1111111111111111)`,
		"removed 1 deny rule, 1 test", "CN=Quarantine", "quarantine cannot connect", "policy diff: compared 3 identities", "deny -> ALLOW connect",
		fmt.Sprintf("; file owner %s (uid %d), modified ", ownerName(t), os.Getuid())} {
		if !strings.Contains(r.Reason, want) {
			t.Errorf("weakening record reason lacks %q: %s", want, r.Reason)
		}
	}
	if r.PolicyHash != "sha256:2222222222222222" || r.Severity != audit.SeverityWarning {
		t.Errorf("weakening record %+v", r)
	}
	if r := recs[2]; r.Outcome != audit.OutcomeFailure || r.PolicyHash != "sha256:2222222222222222" ||
		!strings.Contains(r.Reason, "reload: policy: bad; revision rt-1 sha256:2222222222222222 keeps serving") {
		t.Errorf("failure record %+v", r)
	}
}

// ownerName is the name of the user running the test (the owner of the
// files it creates).
func ownerName(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}
