package authn

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/audit/flood"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/zap"
)

// budgeted puts e's chain behind an aggregator over log, with reserve.
func budgeted(t *testing.T, e *env, log *audit.Log, reserve *flood.Reserve) *flood.Aggregator {
	t.Helper()
	agg, err := flood.NewAggregator(flood.AggregatorOptions{Action: "authn.refusals", PerSource: 3, Reserve: reserve,
		Submit: func(r audit.Record) error { _, err := log.AppendAsync(r); return err }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(agg.Close)
	e.chain.Audit, e.chain.Unauthenticated = log, agg
	return agg
}

// outsiderReq is a handshake with a fresh key nobody bound.
func outsiderReq(t *testing.T, addr string) *zap.Request {
	t.Helper()
	pub, _, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	return curveReq(pub, addr)
}

// count returns the records of action with outcome in dir's log.
func countRecords(t *testing.T, dir, action string, outcome audit.Outcome) []audit.Record {
	t.Helper()
	files, _, err := audit.ResolvePaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	err = audit.Scan(files, audit.ScanOptions{}, func(en *audit.Entry) error {
		if en.Record.Action == action && en.Record.Outcome == outcome {
			out = append(out, en.Record)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUnidentifiedRefusalsAreBudgeted(t *testing.T) {
	e := newEnv(t, nil)
	agg := budgeted(t, e, e.log, nil)
	a := New(e.chain)
	for i := 0; i < 100; i++ {
		res, err := a.Authenticate(context.Background(), outsiderReq(t, "192.0.2.9"))
		if err != nil || res.Status != zap.StatusDenied || res.StatusText != ReasonUnknownKey {
			t.Fatalf("outsider %d: %+v %v", i, res, err)
		}
	}
	plain := &zap.Request{Version: "1.0", RequestID: []byte("1"), Address: "192.0.2.9", Mechanism: "PLAIN"}
	if res, _ := a.Authenticate(context.Background(), plain); res.StatusText != ReasonMechanism {
		t.Fatalf("PLAIN: %+v", res)
	}
	// A known principal's refusal and a grant are written in full.
	if res, _ := a.Authenticate(context.Background(), curveReq(e.keys["OFF$"], "192.0.2.9")); res.StatusText != ReasonDisabled {
		t.Fatalf("OFF$: %+v", res)
	}
	if res, _ := a.Authenticate(context.Background(), curveReq(e.keys["PROXY01$"], "127.0.0.1")); res.Status != zap.StatusOK {
		t.Fatalf("PROXY01$: %+v", res)
	}
	agg.Close()
	dir := filepath.Join(e.dir, "audit")
	must(t, e.log.Close())
	fails := countRecords(t, dir, audit.ActionConnect, audit.OutcomeFailure)
	if len(fails) != 4 || fails[3].User != "OFF$" {
		t.Fatalf("%d full refusal records, want 3 outsiders and OFF$: %+v", len(fails), fails)
	}
	if n := len(countRecords(t, dir, audit.ActionConnect, audit.OutcomeSuccess)); n != 1 {
		t.Fatalf("%d grants", n)
	}
	sums := countRecords(t, dir, "authn.refusals", audit.OutcomeFailure)
	if len(sums) != 1 || !strings.Contains(sums[0].Reason, `refusals=101 counted=98 `) ||
		!strings.Contains(sums[0].Reason, `reasons="mechanism-not-allowed:1,unknown-key:97"`) {
		t.Fatalf("summaries %+v", sums)
	}
}

// TestBelowReserveGrantsStillWritten fills a small tmpfs below the
// reserve: refusals of outsiders are then only counted, a grant is still
// written in full and durable.
func TestBelowReserveGrantsStillWritten(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("mount tmpfs as root failed: %v: %s", err, out)
		}
		t.Skipf("not root: cannot mount a tmpfs (%s)", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	e := newEnv(t, nil)
	dir := filepath.Join(mnt, "audit")
	log, err := audit.Open(audit.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	reserve := flood.NewReserve(dir, 1<<20, nil)
	agg := budgeted(t, e, log, reserve)
	must(t, os.WriteFile(filepath.Join(mnt, "filler"), make([]byte, 1200<<10), 0o600))
	if st := reserve.Status(); !st.Low {
		t.Fatalf("reserve not low: %+v", st)
	}
	a := New(e.chain)
	for i := 0; i < 50; i++ {
		if res, _ := a.Authenticate(context.Background(), outsiderReq(t, "192.0.2.9")); res.Status != zap.StatusDenied {
			t.Fatalf("outsider: %+v", res)
		}
	}
	if res, _ := a.Authenticate(context.Background(), curveReq(e.keys["PROXY01$"], "127.0.0.1")); res.Status != zap.StatusOK {
		t.Fatalf("a grant below the reserve: %+v", res)
	}
	agg.Close()
	must(t, log.Close())
	if n := len(countRecords(t, dir, audit.ActionConnect, audit.OutcomeFailure)); n != 0 {
		t.Errorf("%d refusals written in full below the reserve", n)
	}
	if n := len(countRecords(t, dir, audit.ActionConnect, audit.OutcomeSuccess)); n != 1 {
		t.Errorf("%d grants written below the reserve, want 1", n)
	}
	sums := countRecords(t, dir, "authn.refusals", audit.OutcomeFailure)
	if len(sums) != 1 || !strings.Contains(sums[0].Reason, "counted=50 ") || sums[0].SourceIP.IsValid() {
		t.Errorf("summaries below the reserve: %+v", sums)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// At debug level the "refused" lines of one unidentified source are
// bounded like its audit records; a known principal's refusal is logged.
func TestUnidentifiedRefusalLinesAreBudgeted(t *testing.T) {
	e := newEnv(t, nil)
	budgeted(t, e, e.log, nil)
	var buf strings.Builder
	e.chain.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lines, err := flood.NewLineLimiter(flood.LineLimiterOptions{Logger: e.chain.Logger.With("component", "authn"),
		Level: slog.LevelDebug, Message: "refusals summarized", PerSource: 3})
	if err != nil {
		t.Fatal(err)
	}
	e.chain.RefusalLines = lines
	a := New(e.chain)
	for i := 0; i < 50; i++ {
		if res, _ := a.Authenticate(context.Background(), outsiderReq(t, "192.0.2.9")); res.StatusText != ReasonUnknownKey {
			t.Fatalf("outsider %d: %+v", i, res)
		}
	}
	if res, _ := a.Authenticate(context.Background(), curveReq(e.keys["OFF$"], "192.0.2.9")); res.StatusText != ReasonDisabled {
		t.Fatalf("OFF$: %+v", res)
	}
	lines.Close()
	logs := buf.String()
	if n := strings.Count(logs, "msg=refused component=authn reason=unknown-key"); n != 3 {
		t.Errorf("%d unknown-key lines, want 3:\n%s", n, logs)
	}
	if !strings.Contains(logs, "level=INFO msg=refused component=authn reason=account-disabled user.name=OFF$") {
		t.Errorf("the disabled principal's refusal is not logged:\n%s", logs)
	}
	if !strings.Contains(logs, `msg="refusals summarized" component=authn source.ip=192.0.2.9 events=50 suppressed=47 kinds=unknown-key:47`) {
		t.Errorf("no summary line:\n%s", logs)
	}
}
