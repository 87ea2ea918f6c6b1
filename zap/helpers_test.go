package zap

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pebbe/zmq4"
)

// termTimeout guards zmq_ctx_term and Server.Close in tests: both must
// return promptly once every socket is closed.
const termTimeout = 5 * time.Second

// newContext returns a fresh context that is terminated at cleanup (after
// every socket registered later has been closed), failing the test if
// termination hangs.
func newContext(t testing.TB) *zmq4.Context {
	t.Helper()
	zctx, err := zmq4.NewContext()
	if err != nil {
		t.Fatalf("new context: %v", err)
	}
	t.Cleanup(func() {
		within(t, termTimeout, "context term", func() { _ = zctx.Term() })
	})
	return zctx
}

// within runs f and fails the test if it takes longer than d.
func within(t testing.TB, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Errorf("%s did not return within %s", what, d)
	}
}

// newSocket returns a socket with linger 0, closed at cleanup.
func newSocket(t testing.TB, zctx *zmq4.Context, typ zmq4.Type) *zmq4.Socket {
	t.Helper()
	so, err := zctx.NewSocket(typ)
	if err != nil {
		t.Fatalf("new %s: %v", typ, err)
	}
	must(t, so.SetLinger(0))
	t.Cleanup(func() { _ = so.Close() })
	return so
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startServer starts a Server with a logger that writes to the test log and
// closes it at cleanup, failing if Close hangs.
func startServer(t testing.TB, zctx *zmq4.Context, a Authenticator, cfg Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t, nil)
	}
	s, err := NewServer(zctx, a, cfg)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		within(t, termTimeout, "server close", func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	})
	return s
}

// testLogger logs to buf (if not nil) at debug level; the benchmark and
// most tests discard logs.
func testLogger(t testing.TB, buf *syncBuffer) *slog.Logger {
	if buf == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// keypair is a CURVE key pair in Z85.
type keypair struct{ public, secret string }

func newKeypair(t testing.TB) keypair {
	t.Helper()
	pub, sec, err := zmq4.NewCurveKeypair()
	if err != nil {
		t.Fatalf("curve keypair: %v", err)
	}
	return keypair{pub, sec}
}

// raw returns the 32-byte public key.
func (k keypair) raw() [32]byte {
	var out [32]byte
	copy(out[:], zmq4.Z85decode(k.public))
	return out
}

// curveServer binds a CURVE ROUTER on tcp://127.0.0.1:* and returns it with
// its endpoint. Call monitor first if the test needs events.
func curveServer(t testing.TB, zctx *zmq4.Context, kp keypair, mon bool) (*zmq4.Socket, string, *monitor) {
	t.Helper()
	so := newSocket(t, zctx, zmq4.ROUTER)
	must(t, so.SetCurveServer(1))
	must(t, so.SetCurveSecretkey(kp.secret))
	must(t, so.SetZapDomain("test"))
	must(t, so.SetRcvtimeo(5*time.Second))
	var m *monitor
	if mon {
		m = newMonitor(t, zctx, so)
	}
	must(t, so.Bind("tcp://127.0.0.1:*"))
	ep, err := so.GetLastEndpoint()
	must(t, err)
	return so, ep, m
}

// curveClient connects a CURVE DEALER as client to endpoint.
func curveClient(t testing.TB, zctx *zmq4.Context, server, client keypair, endpoint string) *zmq4.Socket {
	t.Helper()
	so := newSocket(t, zctx, zmq4.DEALER)
	must(t, so.SetCurveServerkey(server.public))
	must(t, so.SetCurvePublickey(client.public))
	must(t, so.SetCurveSecretkey(client.secret))
	must(t, so.SetSndtimeo(5*time.Second))
	must(t, so.SetRcvtimeo(5*time.Second))
	must(t, so.Connect(endpoint))
	return so
}

// event is one socket monitor event.
type event struct {
	typ   zmq4.Event
	value int
}

// monitor collects a socket's events from a PAIR owned by one goroutine.
type monitor struct {
	events chan event
	stop   chan struct{}
	done   chan struct{}
}

var monitorSeq atomic.Int64

func newMonitor(t testing.TB, zctx *zmq4.Context, so *zmq4.Socket) *monitor {
	t.Helper()
	addr := fmt.Sprintf("inproc://test-monitor-%d", monitorSeq.Add(1))
	must(t, so.Monitor(addr, zmq4.EVENT_ALL))
	pair, err := zctx.NewSocket(zmq4.PAIR)
	must(t, err)
	must(t, pair.SetLinger(0))
	must(t, pair.SetRcvtimeo(50*time.Millisecond))
	must(t, pair.Connect(addr))
	m := &monitor{events: make(chan event, 1024), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		defer pair.Close()
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			typ, _, value, err := pair.RecvEvent(0)
			if err != nil {
				continue
			}
			select {
			case m.events <- event{typ, value}:
			default:
			}
		}
	}()
	t.Cleanup(func() { close(m.stop); <-m.done })
	return m
}

// waitEvent waits for an event of type typ (and value, unless value < 0).
func (m *monitor) waitEvent(t testing.TB, typ zmq4.Event, value int, d time.Duration) bool {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-m.events:
			if ev.typ == typ && (value < 0 || ev.value == value) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// mapAuth accepts the keys in users as the given Result, denies others.
func mapAuth(users map[[32]byte]Result) AuthenticatorFunc {
	return func(ctx context.Context, req *Request) (Result, error) {
		key, ok := req.CurveKey()
		if !ok {
			return Result{Status: StatusDenied, StatusText: "curve only"}, nil
		}
		if res, ok := users[key]; ok {
			return res, nil
		}
		return Result{Status: StatusDenied, StatusText: "unknown key"}, nil
	}
}

// roundTrip sends ping from client and returns the server's view: the
// message and the requested metadata properties.
func roundTrip(t testing.TB, server, client *zmq4.Socket, props ...string) ([][]byte, map[string]string, error) {
	t.Helper()
	if _, err := client.SendMessage("ping"); err != nil {
		return nil, nil, err
	}
	return server.RecvMessageBytesWithMetadata(0, props...)
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
