package syslog

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/audit/syslog/syslogtest"
)

// logBuf collects log output.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// env is an audit log, a receiver and a forwarder between them.
type env struct {
	t      *testing.T
	dir    string
	log    *audit.Log
	recv   *syslogtest.Receiver
	logs   *logBuf
	cursor string
	next   int
}

func newEnv(t *testing.T, tlsServer *tls.Config) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), logs: &logBuf{}}
	e.cursor = filepath.Join(e.dir, "syslog.cursor")
	var err error
	e.log, err = audit.Open(audit.Options{Dir: filepath.Join(e.dir, "audit"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.log.Close() })
	if e.recv, err = syslogtest.NewReceiver("127.0.0.1:0", tlsServer); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.recv.Close() })
	return e
}

// options returns forwarder options with short timers.
func (e *env) options(clientTLS *tls.Config) Options {
	return Options{
		Dir: filepath.Join(e.dir, "audit"), Address: e.recv.Addr(), TLS: clientTLS, CursorFile: e.cursor,
		Source: e.log, Settle: 50 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		DialTimeout: 2 * time.Second, Header: Header{Hostname: "broker1"},
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
	}
}

// start runs a forwarder until the returned stop is called.
func (e *env) start(opts Options) (*Forwarder, func()) {
	e.t.Helper()
	f, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return f, stop
}

// appendN appends n records.
func (e *env) appendN(n int) {
	e.t.Helper()
	for i := 0; i < n; i++ {
		e.next++
		_, err := e.log.Append(context.Background(), audit.Record{Action: audit.ActionConnect, Outcome: audit.OutcomeSuccess,
			User: fmt.Sprintf("NODE%04d$", e.next), Reason: "ok"})
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// seqs parses the received messages and returns their audit.seq in
// arrival order.
func seqs(t *testing.T, msgs [][]byte) []uint64 {
	t.Helper()
	out := make([]uint64, 0, len(msgs))
	for _, m := range msgs {
		pm, err := syslogtest.ParseMessage(m)
		if err != nil {
			t.Fatalf("%v: %q", err, m)
		}
		r, err := audit.ParseRecord(pm.Msg)
		if err != nil {
			t.Fatalf("MSG is not the stored record: %v", err)
		}
		if pm.MsgID != r.Action || !strings.Contains(pm.SD, fmt.Sprintf(`audit.seq="%d"`, r.Seq)) {
			t.Fatalf("header/SD do not match the record: %s", m)
		}
		out = append(out, r.Seq)
	}
	return out
}

// firstSeen drops repeats, keeping first arrivals in order.
func firstSeen(s []uint64) []uint64 {
	seen := map[uint64]bool{}
	var out []uint64
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// wantInOrder fails unless first arrivals are exactly 1..n.
func wantInOrder(t *testing.T, got []uint64, n int) {
	t.Helper()
	first := firstSeen(got)
	if len(first) != n {
		t.Fatalf("received %d distinct records, want %d", len(first), n)
	}
	for i, s := range first {
		if s != uint64(i+1) {
			t.Fatalf("record %d arrived in position %d (first arrivals %v…)", s, i, first[:min(len(first), i+3)])
		}
	}
}

// hasAll reports whether n distinct records arrived.
func hasAll(t *testing.T, n int) func([][]byte) bool {
	return func(m [][]byte) bool { return len(firstSeen(seqs(t, m))) >= n }
}

func TestForwardTCPInOrderAndCursor(t *testing.T) {
	e := newEnv(t, nil)
	f, stop := e.start(e.options(nil))
	e.appendN(200)
	if !e.recv.WaitFor(10*time.Second, hasAll(t, 200)) {
		t.Fatalf("received %d of 200", len(e.recv.Messages()))
	}
	got := seqs(t, e.recv.Messages())
	wantInOrder(t, got, 200)
	if len(got) != 200 {
		t.Errorf("%d duplicates without any outage", len(got)-200)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Cursor().Seq != 200 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	c, err := ReadCursor(e.cursor)
	if err != nil || c.Seq != 200 || len(c.Hash) != 64 {
		t.Fatalf("cursor %+v %v", c, err)
	}
	st := f.Stats()
	if st.Forwarded != 200 || st.Sent != 200 || st.Connects != 1 || st.Cursor != 200 {
		t.Errorf("stats %+v", st)
	}
}

func TestForwardTLSMutual(t *testing.T) {
	pki, err := syslogtest.WritePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(pki.ServerCert, pki.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(pki.CA)
	pool.AppendCertsFromPEM(ca)
	server := &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	e := newEnv(t, server)
	client, err := TLSConfig(e.recv.Addr(), TLSFiles{CAFile: pki.CA, CertFile: pki.ClientCert, KeyFile: pki.ClientKey})
	if err != nil {
		t.Fatal(err)
	}
	e.start(e.options(client))
	e.appendN(50)
	if !e.recv.WaitFor(10*time.Second, hasAll(t, 50)) {
		t.Fatalf("received %d of 50; log:\n%s", len(e.recv.Messages()), e.logs)
	}
	wantInOrder(t, seqs(t, e.recv.Messages()), 50)

	// A receiver whose certificate another CA signed is never sent a byte.
	wrong, err := TLSConfig(e.recv.Addr(), TLSFiles{CAFile: pki.OtherCA, CertFile: pki.ClientCert, KeyFile: pki.ClientKey})
	if err != nil {
		t.Fatal(err)
	}
	opts := e.options(wrong)
	opts.CursorFile = filepath.Join(e.dir, "other.cursor")
	f2, stop2 := e.start(opts)
	deadline := time.Now().Add(5 * time.Second)
	for f2.Stats().Errors < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop2()
	if st := f2.Stats(); st.Errors < 2 || st.Sent != 0 || st.Connects != 0 {
		t.Errorf("untrusted receiver: %+v", st)
	}
	if !strings.Contains(e.logs.String(), "certificate signed by unknown authority") {
		t.Errorf("handshake failure not logged:\n%s", e.logs)
	}
}

func TestTLSConfigRefusesWideKey(t *testing.T) {
	pki, err := syslogtest.WritePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pki.ClientKey, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := TLSConfig("127.0.0.1:6514", TLSFiles{CAFile: pki.CA, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}); err == nil ||
		!strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("err %v", err)
	}
	if _, err := TLSConfig("127.0.0.1:6514", TLSFiles{CAFile: pki.ClientKey}); err == nil {
		t.Fatal("a key accepted as CA file")
	}
}

func TestForwardSurvivesReceiverOutage(t *testing.T) {
	e := newEnv(t, nil)
	f, _ := e.start(e.options(nil))
	e.appendN(100)
	if !e.recv.WaitFor(10*time.Second, hasAll(t, 100)) {
		t.Fatal("first 100 not received")
	}
	before := e.recv.Messages()
	addr := e.recv.Addr()
	if err := e.recv.Close(); err != nil {
		t.Fatal(err)
	}
	e.appendN(100) // written while the receiver is down
	time.Sleep(100 * time.Millisecond)
	recv2, err := syslogtest.NewReceiver(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer recv2.Close()
	e.appendN(100)
	if !recv2.WaitFor(10*time.Second, func(m [][]byte) bool { return len(firstSeen(seqs(t, append(before, m...)))) >= 300 }) {
		t.Fatalf("after the outage got %d messages; log:\n%s", len(recv2.Messages()), e.logs)
	}
	all := seqs(t, append(before, recv2.Messages()...))
	wantInOrder(t, all, 300)
	if f.Stats().Errors == 0 || f.Stats().Connects < 2 {
		t.Errorf("stats %+v", f.Stats())
	}
	t.Logf("300 records, %d messages (%d resent after the outage)", len(all), len(all)-300)
}

func TestForwarderRestartResumesAfterCursor(t *testing.T) {
	e := newEnv(t, nil)
	f, stop := e.start(e.options(nil))
	e.appendN(100)
	if !e.recv.WaitFor(10*time.Second, hasAll(t, 100)) {
		t.Fatal("first 100 not received")
	}
	stop()
	if c := f.Cursor(); c.Seq != 100 {
		t.Fatalf("cursor after a clean stop: %d", c.Seq)
	}
	e.appendN(100)
	e.start(e.options(nil))
	if !e.recv.WaitFor(10*time.Second, hasAll(t, 200)) {
		t.Fatal("second 100 not received")
	}
	got := seqs(t, e.recv.Messages())
	wantInOrder(t, got, 200)
	if len(got) != 200 {
		t.Errorf("a clean restart resent %d records", len(got)-200)
	}
}

func TestForwardStopsAtTampering(t *testing.T) {
	e := newEnv(t, nil)
	e.appendN(20)
	if err := e.log.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := audit.Segments(filepath.Join(e.dir, "audit"))
	data, _ := os.ReadFile(segs[0].Path)
	data = bytes.Replace(data, []byte("NODE0011$"), []byte("NODE9999$"), 1)
	if err := os.WriteFile(segs[0].Path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	opts := e.options(nil)
	opts.Source = nil
	f, stop := e.start(opts)
	if !e.recv.WaitFor(5*time.Second, hasAll(t, 10)) {
		t.Fatal("records before the break not forwarded")
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	if got := seqs(t, e.recv.Messages()); len(got) != 10 {
		t.Errorf("sent %d messages; want records 1-10 once each", len(got))
	}
	if c := f.Cursor(); c.Seq != 10 {
		t.Errorf("cursor %d, want 10 (the last record before the break)", c.Seq)
	}
	if f.Stats().Errors == 0 || !strings.Contains(e.logs.String(), "hash mismatch") {
		t.Errorf("tampering not reported: %+v\n%s", f.Stats(), e.logs)
	}
}
