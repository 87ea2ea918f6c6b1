//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/audit/syslog"
	"github.com/zapgate/zapgate/broker/audit/syslog/syslogtest"
)

// rsyslogd is Debian's rsyslog (with rsyslog-gnutls for TLS).
const rsyslogd = "/usr/sbin/rsyslogd"

// rsyslog is an rsyslogd started by a test on 127.0.0.1 with a generated
// configuration that writes every message it receives, as JSON, to out.
type rsyslog struct {
	t    *testing.T
	conf string
	out  string
	pid  string
	port int
	cmd  *exec.Cmd
}

// newRsyslog writes the configuration (gtls with mutual x509 when pki is
// set, plain imtcp otherwise) and starts rsyslogd; it is stopped at
// cleanup.
func newRsyslog(t *testing.T, pki *syslogtest.PKI) *rsyslog {
	t.Helper()
	if _, err := os.Stat(rsyslogd); err != nil {
		t.Fatalf("%s missing: run `make deps` (installs rsyslog and rsyslog-gnutls)", rsyslogd)
	}
	dir := t.TempDir()
	r := &rsyslog{t: t, conf: filepath.Join(dir, "rsyslog.conf"), out: filepath.Join(dir, "received.jsonl"),
		pid: filepath.Join(dir, "rsyslogd.pid"), port: freePort(t)}
	global := fmt.Sprintf(`workDirectory=%q maxMessageSize="64k"`, dir)
	module := `module(load="imtcp")`
	if pki != nil {
		global += fmt.Sprintf(` DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q`,
			pki.CA, pki.ServerCert, pki.ServerKey)
		module = `module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")`
	}
	conf := fmt.Sprintf(`global(%s)
%s
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="audit")
template(name="jsonmsg" type="string" string="%%jsonmesg%%\n")
ruleset(name="audit") { action(type="omfile" file=%q template="jsonmsg") }
`, global, module, r.port, r.out)
	if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(rsyslogd, "-N1", "-f", r.conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd rejects the test configuration: %v\n%s\n(is rsyslog-gnutls installed? run `make deps`)", err, out)
	}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// start runs rsyslogd in the foreground and waits until it listens.
func (r *rsyslog) start() {
	r.t.Helper()
	r.cmd = exec.Command(rsyslogd, "-n", "-f", r.conf, "-i", r.pid)
	r.cmd.Stdout, r.cmd.Stderr = os.Stderr, os.Stderr
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start rsyslogd: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.stop()
			r.t.Fatalf("rsyslogd does not listen on %s: %v", r.addr(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the rsyslogd this test started, by its PID: SIGTERM, then
// SIGKILL after 10s.
func (r *rsyslog) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

func (r *rsyslog) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// received is one message as rsyslog wrote it (%jsonmesg%).
type received struct {
	Msg      string `json:"msg"`
	SD       string `json:"structured-data"`
	MsgID    string `json:"msgid"`
	AppName  string `json:"app-name"`
	Hostname string `json:"hostname"`
	Facility string `json:"syslogfacility"`
	Severity string `json:"syslogseverity"`
}

// records parses what rsyslog received: every MSG must be a stored record
// line whose hash verifies, with matching header and structured data.
func (r *rsyslog) records(t *testing.T) []audit.Record {
	t.Helper()
	f, err := os.Open(r.out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m received
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("rsyslog output: %v: %s", err, sc.Bytes())
		}
		rec, err := audit.ParseRecord([]byte(m.Msg))
		if err != nil {
			t.Fatalf("received MSG is not a verifiable record: %v: %q", err, m.Msg)
		}
		if m.MsgID != rec.Action || m.AppName != "zapgate" || m.Hostname != "broker1" || m.Facility != "10" ||
			!strings.Contains(m.SD, fmt.Sprintf(`audit.seq="%d"`, rec.Seq)) || !strings.Contains(m.SD, `event.id="`+rec.ID+`"`) {
			t.Fatalf("header or structured data do not match record %d: %+v", rec.Seq, m)
		}
		out = append(out, rec)
	}
	return out
}

// distinct returns the records in first-arrival order, without repeats
// (the receiver deduplicates by event.id).
func distinct(recs []audit.Record) []audit.Record {
	seen := map[string]bool{}
	var out []audit.Record
	for _, r := range recs {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

// waitRecords waits until rsyslog holds n distinct records.
func (r *rsyslog) waitRecords(t *testing.T, n int, what string) []audit.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := distinct(r.records(t))
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: rsyslog has %d of %d records", what, len(got), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// forwarder runs a syslog.Forwarder until stopped.
type forwarder struct {
	f    *syslog.Forwarder
	stop func()
}

func startForwarder(t *testing.T, opts syslog.Options) *forwarder {
	t.Helper()
	f, err := syslog.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	var once sync.Once
	fw := &forwarder{f: f, stop: func() { once.Do(func() { cancel(); <-done }) }}
	t.Cleanup(fw.stop)
	return fw
}

// appender writes records until stopped.
type appender struct {
	n    atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func startAppender(t *testing.T, l *audit.Log) *appender {
	a := &appender{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for i := 0; ; i++ {
			select {
			case <-a.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			rec := audit.Record{Action: audit.ActionRequest, Outcome: audit.OutcomeSuccess, User: fmt.Sprintf("NODE%05d$", i),
				Service: "repository", Command: "task.status", Reason: "allowed"}
			if i%50 == 7 {
				rec.Outcome, rec.Reason, rec.User = audit.OutcomeFailure, "hostile \"]\\ é\nSPOOF=1", "evil|user=x\\y\ttab"
			}
			if _, err := l.Append(context.Background(), rec); err != nil {
				t.Error(err)
				return
			}
			a.n.Add(1)
		}
	}()
	return a
}

func (a *appender) halt() { close(a.stop); <-a.done }

// syslogScenario forwards a live log to a real rsyslogd, stops rsyslogd
// mid-stream and starts it again, restarts the forwarder, and checks that
// rsyslog ends up with every record, first arrivals in chain order, each
// verifiable, the chain intact on the receiving side.
func syslogScenario(t *testing.T, useTLS bool) {
	dir := t.TempDir()
	var pki *syslogtest.PKI
	var clientTLS *tls.Config
	if useTLS {
		p, err := syslogtest.WritePKI(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		pki = &p
	}
	rs := newRsyslog(t, pki)
	if useTLS {
		var err error
		clientTLS, err = syslog.TLSConfig(rs.addr(), syslog.TLSFiles{CAFile: pki.CA, CertFile: pki.ClientCert, KeyFile: pki.ClientKey})
		if err != nil {
			t.Fatal(err)
		}
	}
	pub, key := auditKey(t)
	logDir := filepath.Join(dir, "audit")
	l, err := audit.Open(audit.Options{Dir: logDir, CheckpointKey: key, CheckpointInterval: 300 * time.Millisecond,
		RotateBytes: 64 << 10, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	opts := syslog.Options{Dir: logDir, Address: rs.addr(), TLS: clientTLS, CursorFile: filepath.Join(dir, "syslog.cursor"),
		Source: l, Settle: 200 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Header: syslog.Header{Hostname: "broker1"}, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	fw := startForwarder(t, opts)
	app := startAppender(t, l)
	rs.waitRecords(t, 100, "before the outage")
	rs.stop() // mid-stream: records keep coming
	time.Sleep(700 * time.Millisecond)
	during := app.n.Load()
	rs.start()
	rs.waitRecords(t, int(during), "after rsyslogd restarted")
	fw.stop()
	time.Sleep(200 * time.Millisecond)
	fw = startForwarder(t, opts)
	time.Sleep(300 * time.Millisecond)
	app.halt()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	last := l.LastSeq()
	got := rs.waitRecords(t, int(last), "after the forwarder restarted")
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d arrived in position %d", r.Seq, i+1)
		}
		if i > 0 && r.PrevHash != got[i-1].Hash {
			t.Fatalf("received chain breaks at %d", r.Seq)
		}
	}
	all := rs.records(t)
	t.Logf("%d records (%d appended, checkpoints included) arrived in order over %s; %d messages, %d resent; forwarder stats %+v",
		last, app.n.Load(), map[bool]string{false: "TCP", true: "TLS"}[useTLS], len(all), len(all)-len(got), fw.f.Stats())
	files, head, err := audit.ResolvePaths([]string{logDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(files, audit.VerifyOptions{Key: pub, Head: head, Dir: logDir}); err != nil {
		t.Fatal(err)
	}
}

func TestAuditSyslogRsyslogTCP(t *testing.T) { syslogScenario(t, false) }

func TestAuditSyslogRsyslogTLS(t *testing.T) { syslogScenario(t, true) }
