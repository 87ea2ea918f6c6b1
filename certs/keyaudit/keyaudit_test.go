package keyaudit

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
)

var quiet = slog.New(slog.DiscardHandler)

// recorder keeps the records; fail makes Append fail.
type recorder struct {
	mu   sync.Mutex
	recs []audit.Record
	fail bool
}

func (r *recorder) Append(_ context.Context, rec audit.Record) (audit.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return audit.Receipt{}, audit.ErrUnavailable
	}
	r.recs = append(r.recs, rec)
	return audit.Receipt{}, nil
}

// take returns the records written since the last call.
func (r *recorder) take() []audit.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.recs
	r.recs = nil
	return out
}

// fixture is a registry directory, a node key to bind, and a state file.
type fixture struct {
	dir, reg, state string
	rec             *recorder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), rec: &recorder{}}
	f.reg = filepath.Join(f.dir, "keys")
	f.state = filepath.Join(f.dir, "keys.state")
	os.Mkdir(f.reg, 0o755)
	return f
}

// key makes a keypair NAME.key in the fixture's directory.
func (f *fixture) key(t *testing.T, name string) string {
	t.Helper()
	pub, sec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := (&certs.Cert{Public: pub, Secret: &sec}).Save(f.dir, name); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(f.dir, name+".key")
}

// open starts a broker's view: an Auditor from the state file and a
// registry reporting to it.
func (f *fixture) open(t *testing.T) *certs.Registry {
	t.Helper()
	a, err := New(Options{Audit: f.rec, StateFile: f.state, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r, err := certs.Open(f.reg, certs.Options{Logger: quiet, OnLoad: a.Observe})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func want(t *testing.T, recs []audit.Record, i int, action string, outcome audit.Outcome, user string, reasonParts ...string) {
	t.Helper()
	if i >= len(recs) {
		t.Fatalf("record %d missing; got %+v", i, recs)
	}
	r := recs[i]
	if r.Action != action || r.Outcome != outcome || r.User != user {
		t.Fatalf("record %d = %s %s user %q (%s); want %s %s user %q", i, r.Action, r.Outcome, r.User, r.Reason, action, outcome, user)
	}
	for _, p := range reasonParts {
		if !strings.Contains(r.Reason, p) {
			t.Fatalf("record %d reason %q lacks %q", i, r.Reason, p)
		}
	}
}

// Issue 11 item 6: `keys revoke` left no audit record.
func TestRevokeIsAuditedWithActorAndBefore(t *testing.T) {
	f := newFixture(t)
	b, err := certs.AddCert(f.reg, f.key(t, "proxy01"), "PROXY01$", certs.AddOptions{By: "alice (uid 1000)", Source: "CHG-1"})
	if err != nil {
		t.Fatal(err)
	}
	r := f.open(t)
	recs := f.rec.take()
	if len(recs) != 1 {
		t.Fatalf("first start: %+v", recs)
	}
	want(t, recs, 0, ActionAdd, audit.OutcomeSuccess, "alice (uid 1000)", `baseline principal="PROXY01$"`, "source=CHG-1", "file=proxy01.key")
	if recs[0].Key != b.Key.Fingerprint() {
		t.Fatalf("zapgate.key = %q", recs[0].Key)
	}

	if _, _, err := certs.RevokeWith(f.reg, "PROXY01$", certs.RevokeOptions{By: "bob (uid 1001)"}); err != nil {
		t.Fatal(err)
	}
	r.Reload()
	recs = f.rec.take()
	if len(recs) != 1 {
		t.Fatalf("after revoke: %+v", recs)
	}
	want(t, recs, 0, ActionRevoke, audit.OutcomeSuccess, "bob (uid 1001)", `principal="PROXY01$"`,
		`before="bound principal=PROXY01$ source=CHG-1 file=proxy01.key by=alice (uid 1000)"`, `after="revoked principal=PROXY01$`, "file=revoked/proxy01.key")
	if recs[0].Key != b.Key.Fingerprint() {
		t.Fatalf("zapgate.key = %q", recs[0].Key)
	}
	// Nothing changed: nothing recorded.
	r.Reload()
	if recs := f.rec.take(); len(recs) != 0 {
		t.Fatalf("reload without change: %+v", recs)
	}
}

// Changes made while the broker is down are audited at its next start.
func TestChangesWhileStoppedAreAuditedAtStart(t *testing.T) {
	f := newFixture(t)
	certs.AddCert(f.reg, f.key(t, "a"), "A$", certs.AddOptions{By: "alice"})
	certs.AddCert(f.reg, f.key(t, "b"), "B$", certs.AddOptions{By: "alice"})
	f.open(t)
	f.rec.take()

	// The broker is stopped: revoke A, add C, edit B's principal by hand.
	certs.RevokeWith(f.reg, "A$", certs.RevokeOptions{By: "bob"})
	certs.AddCert(f.reg, f.key(t, "c"), "C$", certs.AddOptions{By: "carol"})
	bb, _ := certs.Find(f.reg, "B$")
	bFile := bb.File
	data, _ := os.ReadFile(bFile)
	os.Remove(bFile)
	os.WriteFile(bFile, []byte(strings.Replace(string(data), `"B$"`, `"EVIL$"`, 1)), 0o644)

	f.open(t)
	recs := f.rec.take()
	got := map[string]audit.Record{}
	for _, r := range recs {
		got[r.Action] = r
	}
	if len(recs) != 3 {
		t.Fatalf("records at restart: %+v", recs)
	}
	want(t, []audit.Record{got[ActionRevoke]}, 0, ActionRevoke, audit.OutcomeSuccess, "bob", `principal="A$"`, `before="bound principal=A$`)
	want(t, []audit.Record{got[ActionAdd]}, 0, ActionAdd, audit.OutcomeSuccess, "carol", `added principal="C$"`)
	want(t, []audit.Record{got[ActionChange]}, 0, ActionChange, audit.OutcomeSuccess, "", `changed principal="EVIL$"`, `before="bound principal=B$`, `after="bound principal=EVIL$`, `owner="uid `)
}

// Issue 11 items 5 and 6: registry errors are audited with what they
// unbound, and so is the end of the problem.
func TestRegistryErrorsAreAudited(t *testing.T) {
	f := newFixture(t)
	b, _ := certs.AddCert(f.reg, f.key(t, "a"), "A$", certs.AddOptions{})
	certs.AddCert(f.reg, f.key(t, "b"), "B$", certs.AddOptions{})
	r := f.open(t)
	f.rec.take()

	os.Chmod(b.File, 0o666)
	r.Reload()
	recs := f.rec.take()
	want(t, recs, 0, ActionError, audit.OutcomeFailure, "", "file-refused", "writable by group or others", `before="bound principal=A$`)
	if len(recs) != 1 || recs[0].Key != b.Key.Fingerprint() {
		t.Fatalf("records: %+v", recs)
	}
	os.Chmod(b.File, 0o644)
	r.Reload()
	recs = f.rec.take()
	want(t, recs, 0, ActionError, audit.OutcomeSuccess, "", "file-accepted")
	want(t, recs, 1, ActionAdd, audit.OutcomeSuccess, "", `added principal="A$"`)

	// The directory moved away and back: one record each, no key churn.
	os.Rename(f.reg, f.reg+".old")
	r.Reload()
	recs = f.rec.take()
	if len(recs) != 1 {
		t.Fatalf("records: %+v", recs)
	}
	want(t, recs, 0, ActionError, audit.OutcomeFailure, "", "registry-missing", "2 bindings dropped")
	os.Rename(f.reg+".old", f.reg)
	r.Reload()
	recs = f.rec.take()
	if len(recs) != 1 {
		t.Fatalf("records: %+v", recs)
	}
	want(t, recs, 0, ActionError, audit.OutcomeSuccess, "", "registry-restored")

	os.Chmod(f.reg, 0o777)
	r.Reload()
	want(t, f.rec.take(), 0, ActionError, audit.OutcomeFailure, "", "registry-refused", "mode 0777")
	os.Chmod(f.reg, 0o755)
	r.Reload()
	want(t, f.rec.take(), 0, ActionError, audit.OutcomeSuccess, "", "registry-trusted")
}

// A change whose record cannot be written is recorded at a later load.
func TestUnauditedChangeIsRetried(t *testing.T) {
	f := newFixture(t)
	r := f.open(t)
	f.rec.fail = true
	certs.AddCert(f.reg, f.key(t, "a"), "A$", certs.AddOptions{By: "alice"})
	r.Reload()
	f.rec.fail = false
	r.Reload()
	want(t, f.rec.take(), 0, ActionAdd, audit.OutcomeSuccess, "alice")

	// A corrupt state file is an error, not a silent new baseline.
	os.WriteFile(f.state, []byte("{"), 0o600)
	if _, err := New(Options{Audit: f.rec, StateFile: f.state}); err == nil {
		t.Fatal("New with a corrupt state file succeeded")
	}
	if _, err := New(Options{StateFile: f.state}); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatal("New without Audit succeeded")
	}
}
