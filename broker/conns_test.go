package broker

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/internal/shutout"
)

// fakeConnOps is an fdOps with counters the test sets.
type fakeConnOps struct {
	mu    sync.Mutex
	ids   map[int]connID
	bytes map[int]uint64
	down  []int
}

func newFakeConnOps() *fakeConnOps {
	return &fakeConnOps{ids: map[int]connID{}, bytes: map[int]uint64{}}
}

func (f *fakeConnOps) identify(fd int) (connID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.ids[fd]
	if !ok {
		return connID{}, errors.New("not a connection")
	}
	return id, nil
}

func (f *fakeConnOps) read(fd int) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bytes[fd], nil
}

func (f *fakeConnOps) cut(fd int, id connID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids[fd] != id {
		return errNotThisConn
	}
	f.down = append(f.down, fd)
	return nil
}

func (f *fakeConnOps) add(fd int, n uint64) {
	f.mu.Lock()
	f.bytes[fd] += n
	f.mu.Unlock()
}

func (f *fakeConnOps) cuts() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.down...)
}

const testLimit = 1000

func newTestTable(ops fdOps, off Offenders) *connTable {
	t := newConnTable(ops, testLimit, off, slog.New(slog.DiscardHandler))
	t.setEndpoint("tcp://127.0.0.1:5555")
	return t
}

func testConnID(peerPort string) connID {
	return connID{ino: 42, local: "127.0.0.1:5555", peer: "10.0.0.1:" + peerPort}
}

// TestConnBacklogBaselineMovesOnDelivery: a connection from which the
// broker reads messages is never cut, however much it sends; one from
// which libzmq reads more than the limit with no message delivered is
// cut once, and the cut names the last identity seen on it.
func TestConnBacklogBaselineMovesOnDelivery(t *testing.T) {
	ops := newFakeConnOps()
	ops.ids[7] = testConnID("40000")
	ops.bytes[7] = 500 // the handshake, before the first check
	tab := newTestTable(ops, nil)
	tab.accepted(7)
	now := time.Unix(1000, 0)
	tab.check(now) // baseline 0: nothing delivered yet
	ops.add(7, 100)
	tab.delivered(7, Peer{UserID: "NODE01", Key: "K1"})
	tab.check(now) // baseline 600

	who := Peer{UserID: "NODE01", Key: "K1", Address: "10.0.0.1"}
	for range 10 { // a busy sender: far over the limit per interval, all delivered
		ops.add(7, 10*testLimit)
		tab.delivered(7, who)
		tab.check(now)
	}
	ops.add(7, testLimit) // exactly the limit without a delivery: kept
	tab.check(now)
	if got := ops.cuts(); len(got) != 0 {
		t.Fatalf("cut at the limit: %v", got)
	}
	ops.add(7, 1)
	tab.check(now)
	if got := ops.cuts(); len(got) != 1 || got[0] != 7 {
		t.Fatalf("cuts %v, want fd 7 once past the limit", got)
	}
	cuts := tab.takeCuts()
	if len(cuts) != 1 || cuts[0].who != who || cuts[0].read != testLimit+1 || cuts[0].shutOut {
		t.Fatalf("cut %+v", cuts)
	}
	ops.add(7, 10*testLimit)
	tab.check(now)
	if got := ops.cuts(); len(got) != 1 {
		t.Errorf("cut again before the monitor reported it closed: %v", got)
	}
	tab.closed(7)
	if len(tab.takeCuts()) != 0 {
		t.Error("a second cut reported")
	}
}

// TestConnBacklogWithoutAnyMessage: a connection that sends one huge
// message first is cut with no identity known (audited by address), even
// when libzmq read it all before the first check saw the connection.
func TestConnBacklogWithoutAnyMessage(t *testing.T) {
	ops := newFakeConnOps()
	ops.ids[9] = testConnID("40001")
	ops.ids[10] = testConnID("40002")
	tab := newTestTable(ops, nil)
	tab.accepted(9)
	tab.accepted(10)
	ops.add(10, testLimit+1) // before the first check
	tab.check(time.Now())
	ops.add(9, 3*testLimit)
	tab.check(time.Now())
	cuts := tab.takeCuts()
	if len(cuts) != 2 {
		t.Fatalf("cuts %+v", cuts)
	}
	for _, c := range cuts {
		if c.who != (Peer{}) || (c.id.peer != "10.0.0.1:40001" && c.id.peer != "10.0.0.1:40002") {
			t.Errorf("cut %+v", c)
		}
	}
}

// TestConnCutOnlyAcceptedConnectionsOfTheSocket: an fd the monitor did
// not report, or that ops cannot identify as an accepted TCP connection,
// or one accepted on another port, or one reported closed, or one whose
// number now names another socket, is never shut down.
func TestConnCutOnlyAcceptedConnectionsOfTheSocket(t *testing.T) {
	ops := newFakeConnOps()
	ops.ids[3] = testConnID("40002")                                              // never reported accepted
	ops.ids[4] = connID{ino: 43, local: "127.0.0.1:6666", peer: "10.0.0.1:40003"} // another port
	ops.ids[5] = testConnID("40004")                                              // reported, then closed
	ops.ids[6] = testConnID("40005")                                              // reused after being reported
	tab := newTestTable(ops, nil)
	tab.accepted(2) // ops cannot identify it (a listening socket, a pipe…)
	tab.accepted(4)
	tab.accepted(5)
	tab.accepted(6)
	tab.check(time.Now())
	tab.closed(5)
	ops.ids[6] = connID{ino: 99, local: "127.0.0.1:5555", peer: "10.0.0.2:50000"}
	for _, fd := range []int{2, 3, 4, 5, 6} {
		ops.add(fd, 10*testLimit)
	}
	tab.check(time.Now())
	if got := ops.cuts(); len(got) != 0 {
		t.Errorf("shut down %v", got)
	}
	if got := tab.takeCuts(); len(got) != 0 {
		t.Errorf("reported cuts %+v", got)
	}

	unbound := newConnTable(ops, testLimit, nil, slog.New(slog.DiscardHandler))
	unbound.setEndpoint("ipc:///tmp/x") // no TCP port: nothing is cut
	ops.ids[8] = testConnID("40006")
	unbound.accepted(8)
	unbound.check(time.Now())
	ops.add(8, 10*testLimit)
	unbound.check(time.Now())
	if got := ops.cuts(); len(got) != 0 {
		t.Errorf("cut without a bound TCP port: %v", got)
	}
}

// TestShutOutKeyConnectionCut: once the key last seen on a connection is
// shut out, the connection is cut shutOutCutDelay after a check first
// sees it, whatever its backlog; others are not.
func TestShutOutKeyConnectionCut(t *testing.T) {
	now := time.Unix(1000, 0)
	off := shutout.New(shutout.Config{Offences: 1, Now: func() time.Time { return now }})
	ops := newFakeConnOps()
	ops.ids[7] = testConnID("40007")
	ops.ids[8] = testConnID("40008")
	tab := newTestTable(ops, off)
	tab.accepted(7)
	tab.accepted(8)
	bad := Peer{UserID: "BAD01", Key: "KBAD"}
	tab.delivered(7, bad)
	tab.delivered(8, Peer{UserID: "GOOD01", Key: "KGOOD"})
	tab.check(now)
	off.Offend("KBAD", "BAD01")
	tab.check(now)
	now = now.Add(shutOutCutDelay / 2)
	tab.check(now)
	if got := ops.cuts(); len(got) != 0 {
		t.Fatalf("cut before the delay: %v", got)
	}
	now = now.Add(shutOutCutDelay)
	tab.check(now)
	if got := ops.cuts(); len(got) != 1 || got[0] != 7 {
		t.Fatalf("cuts %v, want fd 7", got)
	}
	if cuts := tab.takeCuts(); len(cuts) != 1 || !cuts[0].shutOut || cuts[0].who != bad {
		t.Fatalf("cut %+v", cuts)
	}
}

func TestMinConnectionBacklog(t *testing.T) {
	_, sec, _ := certs.GenerateKeypair()
	testSecret := func() certs.SecretKey { return sec }
	rids := newKeyTable().minter
	c, err := Config{Endpoint: "tcp://127.0.0.1:*", ServerSecret: testSecret(), RoutingIDs: rids}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := MinConnectionBacklog(DefaultReceiveHWM, DefaultMaxFrames, DefaultMaxMessageBytes)
	if c.MaxConnectionBacklog != want || want < int64(DefaultReceiveHWM+1)*DefaultMaxMessageBytes {
		t.Errorf("default %d, want %d", c.MaxConnectionBacklog, want)
	}
	_, err = Config{Endpoint: "tcp://127.0.0.1:*", ServerSecret: testSecret(), RoutingIDs: rids, MaxConnectionBacklog: want - 1}.withDefaults()
	if err == nil {
		t.Error("a backlog below what senders within the limits need was accepted")
	}
}

// TestConnectionCutPastBacklog: a node that starts a message and never
// ends it makes libzmq hold it all before the broker sees a frame; once
// libzmq has read more than MaxConnectionBacklog from the connection, the
// connection is cut, audited with the identity of its last message and
// counted as an offence, while another node keeps relaying.
func TestConnectionCutPastBacklog(t *testing.T) {
	e := newEnv(t, limitsConfig(3))
	e.authz.grant("PROXY01$", "serve proxy", "request * task.*")
	e.authz.grant("BACKUP01$", "request * task.*")
	worker := e.dial("PROXY01$")
	worker.ready("proxy")
	e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })
	attacker := e.dial("BACKUP01$")
	attacker.request("nothing", "task.status")
	if r := attacker.refusal("nothing"); r.Code != 404 {
		t.Fatalf("first request: %+v", r)
	}
	// The sender's libzmq transmits a message only once its last frame
	// is queued; then the broker's libzmq reads it all before the broker
	// sees a frame. 128 MiB in 64 KiB frames takes several checks on
	// loopback.
	chunk := make([]byte, 64<<10)
	head := bs("", "MDPC01", "proxy", "task.start")
	const frames = 2048
	for i := range len(head) + frames {
		f, flag := chunk, zmq.SNDMORE
		if i < len(head) {
			f = head[i]
		}
		if i == len(head)+frames-1 {
			flag = 0
		}
		if _, err := attacker.sock.SendBytes(f, flag); err != nil {
			t.Fatal(err)
		}
	}
	ev := e.rec.wait(t, "connection-backlog", func(ev Event) bool { return ev.Action == ActionDrop && ev.Reason == ReasonConnectionBacklog })
	if ev.Principal != "BACKUP01$" || ev.Severity != SeverityWarning || ev.Key != attacker.key.Fingerprint() || ev.Source != "127.0.0.1" {
		t.Errorf("event %+v", ev)
	}
	eventually(t, 3*time.Second, "the cut counted", func() bool { return e.broker.Stats().ConnectionsCut == 1 })
	if n := e.broker.cfg.Offenders.(*shutout.List); n == nil {
		t.Fatal("no offenders list")
	}
	fresh := e.dial("PROXY01$") // the first worker sent no heartbeats and expired
	fresh.ready("proxy")
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start")
	_, body := fresh.serveOne()
	if len(body) == 0 || body[0] != "task.start" {
		t.Fatalf("worker got %q", body)
	}
}

// TestShutOutKeyConnectionsClosed: when a key is shut out, every
// connection a message of that key was read on is closed after its
// DISCONNECT or refusal left; another key's connections stay.
func TestShutOutKeyConnectionsClosed(t *testing.T) {
	e := newEnv(t, limitsConfig(1))
	e.authz.grant("PROXY01$", "serve proxy", "request * task.*")
	e.authz.grant("BACKUP01$", "request * task.*")
	pub, sec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	e.nodes.mu.Lock()
	e.nodes.keys[pub] = "PROXY01$"
	e.nodes.mu.Unlock()
	worker := e.dialKey("PROXY01$", pub, sec)
	worker.ready("proxy")
	e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })
	other := e.dial("BACKUP01$")
	other.request("nothing", "task.status")
	other.refusal("nothing")
	offender := e.dialKey("PROXY01$", pub, sec)
	offender.request("proxy", append([]string{"task.start"}, chunks(20, 1)...)...)
	if r := offender.refusal("proxy"); r.Reason != mdp.ReasonTooLarge {
		t.Fatalf("offence: %+v", r)
	}
	worker.command(mdp.Disconnect, 3*time.Second)
	eventually(t, 3*time.Second, "both connections of the key cut", func() bool { return e.broker.Stats().ConnectionsCut == 2 })
	if got := strings.Count(e.logs.String(), "connection of a shut-out key cut"); got != 2 {
		t.Errorf("%d shut-out cuts logged, want 2", got)
	}
	time.Sleep(3 * connCheckInterval)
	if n := e.broker.Stats().ConnectionsCut; n != 2 {
		t.Errorf("%d connections cut, want 2 (the other key's stays)", n)
	}
}
