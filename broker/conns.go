package broker

import (
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Connection accounting: libzmq 4.3.4 shows the broker a message only
// once its last frame has arrived, and bounds frames, not their number,
// so a node can make libzmq buffer a message of any size before the
// broker sees a byte of it (docs/security.md, "Memory bound"). The
// broker cannot refuse such a message; it can close the connection that
// carries it. connTable watches every accepted TCP connection of the
// broker socket: how many bytes libzmq has read from it (the kernel's
// tcpi_bytes_received less what still waits in the socket's receive
// queue), and whether the broker has read a message from it since the
// last check (the message's ZMQ_SRCFD). A connection from which libzmq
// read more than Config.MaxConnectionBacklog bytes while the broker read
// no message from it holds more than any sender within the limits can
// make it hold (receive_hwm complete messages and one being assembled),
// and is cut: shutdown(2) on its socket, after which libzmq sees the
// connection fail, drops the pipe with the partial message and reports
// DISCONNECTED. A connection whose key is shut out is cut too, a moment
// after its DISCONNECT or refusal was sent.

// ReasonConnectionBacklog is the drop reason (Event.Reason of
// broker.drop) of a connection cut for its backlog.
const ReasonConnectionBacklog = "connection-backlog"

const (
	// connCheckInterval is how often the accounting runs while the
	// socket has connections; what libzmq reads from a connection in one
	// interval is a term of the memory bound.
	connCheckInterval = 25 * time.Millisecond
	// shutOutCutDelay lets a shut-out key's DISCONNECT or 403 leave
	// before its connection is cut.
	shutOutCutDelay = 250 * time.Millisecond
)

// connID is what identifies a connection beyond its fd number, which the
// kernel reuses once libzmq closes it: the socket's inode (sockfs numbers
// each socket anew) and its two addresses.
type connID struct {
	ino   uint64
	local string // ip:port of the broker's end
	peer  string // ip:port of the node's end
}

// errNotThisConn reports that an fd no longer is the connection the
// monitor accepted (closed, reused); it is left alone.
var errNotThisConn = errors.New("fd is no longer the accepted connection")

// fdOps is what the accounting asks the system; connOps (Linux) is the
// real one, tests pass a fake.
type fdOps interface {
	// identify returns the identity of fd, an accepted TCP connection
	// (never a listening socket), or an error for anything else.
	identify(fd int) (connID, error)
	// read returns the bytes libzmq has read from the connection on fd
	// so far: received by the kernel less still queued in the socket.
	read(fd int) (uint64, error)
	// cut shuts the connection on fd down (both ways) if fd still is id;
	// otherwise errNotThisConn.
	cut(fd int, id connID) error
}

// conn is one accepted connection of the broker socket.
type conn struct {
	fd        int
	id        connID
	delivered bool      // the broker read a message from it since the last check
	carried   bool      // the broker read a message from it at some time: its peer was authenticated
	who       Peer      // the identity of the last message read from it
	base      uint64    // bytes libzmq had read at the last check with a delivery (0: none yet)
	shutAt    time.Time // when a check first saw who.Key shut out
	cutting   bool      // cut or being cut
}

// connCut is a cut connection for the loop to audit.
type connCut struct {
	fd      int
	id      connID
	who     Peer
	read    uint64 // bytes read without a delivery when cut
	shutOut bool   // cut because its key is shut out, not for its backlog
}

// connTable is the set of accepted connections: the monitor goroutine
// adds and removes them, the loop marks deliveries and takes the cuts,
// and the checker goroutine does the accounting. mu guards everything
// but the fields set before the checker starts.
type connTable struct {
	ops       fdOps
	limit     uint64
	offenders Offenders
	log       *slog.Logger
	wake      func()       // wakes the loop when there are cuts
	port      atomic.Int32 // the port the broker socket listens on; 0 until bound
	added     chan struct{}

	mu    sync.Mutex
	conns map[int]*conn
	cuts  []connCut
}

func newConnTable(ops fdOps, limit int64, offenders Offenders, log *slog.Logger) *connTable {
	return &connTable{ops: ops, limit: uint64(limit), offenders: offenders, log: log,
		wake: func() {}, added: make(chan struct{}, 1), conns: map[int]*conn{}}
}

// accepted records a connection the monitor reported (EVENT_ACCEPTED). A
// fd that is not an accepted TCP connection is not tracked, and so never
// cut.
func (t *connTable) accepted(fd int) {
	if t == nil {
		return
	}
	id, err := t.ops.identify(fd)
	if err != nil {
		t.log.Debug("connection not tracked", "fd", fd, "error", err)
		return
	}
	t.mu.Lock()
	t.conns[fd] = &conn{fd: fd, id: id}
	t.mu.Unlock()
	select {
	case t.added <- struct{}{}:
	default:
	}
}

// closed forgets a connection the monitor reported gone
// (EVENT_DISCONNECTED) and reports whether the broker read a message from
// it, so that its handshake had succeeded.
func (t *connTable) closed(fd int) (carried bool) {
	if t == nil {
		return false
	}
	t.mu.Lock()
	if c := t.conns[fd]; c != nil {
		carried = c.carried
		delete(t.conns, fd)
	}
	t.mu.Unlock()
	return carried
}

// delivered notes that the broker read a message from fd (its ZMQ_SRCFD)
// sent by who.
func (t *connTable) delivered(fd int, who Peer) {
	if t == nil || fd < 0 {
		return
	}
	t.mu.Lock()
	if c := t.conns[fd]; c != nil {
		c.delivered, c.carried = true, true
		c.who = who
	}
	t.mu.Unlock()
}

// size is the number of connections tracked.
func (t *connTable) size() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// takeCuts returns the connections cut since the last call.
func (t *connTable) takeCuts() []connCut {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cuts := t.cuts
	t.cuts = nil
	return cuts
}

// run checks the connections every connCheckInterval while there are
// any, until stop is closed.
func (t *connTable) run(stop <-chan struct{}) {
	tick := time.NewTicker(connCheckInterval)
	defer tick.Stop()
	for {
		t.mu.Lock()
		idle := len(t.conns) == 0
		t.mu.Unlock()
		if idle {
			select {
			case <-t.added:
			case <-stop:
				return
			}
		}
		select {
		case <-tick.C:
		case <-stop:
			return
		}
		t.check(time.Now())
	}
}

// checked is one connection's state taken for a check.
type checked struct {
	c         *conn
	delivered bool
	who       Peer
}

// check runs the accounting once: for each connection, a delivery since
// the last check moves its baseline to what libzmq has read now;
// otherwise more than limit read past the baseline cuts it. The baseline
// of a new connection is zero, so a connection whose first message is
// too large is cut at the same bound however late the monitor reported
// it (its handshake, a few hundred bytes, counts against the limit's
// slack). A connection
// whose last sender's key is shut out is cut shutOutCutDelay after a
// check first sees it. The system calls run without the lock, so the
// loop's deliveries do not wait for them.
func (t *connTable) check(now time.Time) {
	t.mu.Lock()
	batch := make([]checked, 0, len(t.conns))
	for _, c := range t.conns {
		if c.cutting {
			continue
		}
		batch = append(batch, checked{c: c, delivered: c.delivered, who: c.who})
		c.delivered = false
	}
	t.mu.Unlock()

	var cut []connCut
	for _, k := range batch {
		c := k.c
		if k.who.Key != "" && t.offenders != nil {
			if _, _, out := t.offenders.ShutOut(k.who.Key); out {
				if c.shutAt.IsZero() {
					c.shutAt = now
				}
				if now.Sub(c.shutAt) >= shutOutCutDelay {
					cut = append(cut, connCut{fd: c.fd, id: c.id, who: k.who, shutOut: true})
					c.cutting = true
				}
				continue
			}
			c.shutAt = time.Time{}
		}
		n, err := t.ops.read(c.fd)
		if err != nil {
			continue // gone, or not a TCP connection
		}
		switch {
		case k.delivered || n < c.base:
			c.base = n
		case n-c.base > t.limit:
			cut = append(cut, connCut{fd: c.fd, id: c.id, who: k.who, read: n - c.base})
			c.cutting = true
		}
	}
	// Only this goroutine writes base, shutAt and cutting, and
	// the loop reads none of them; delivered and who stay under mu.
	var done []connCut
	for i := range cut {
		fd, ok := t.tracked(cut[i])
		if !ok {
			continue // the monitor saw it close meanwhile
		}
		if err := t.cut(fd, cut[i].id); err != nil {
			t.log.Warn("connection not cut", "peer", cut[i].id.peer, "error", err)
			continue
		}
		done = append(done, cut[i])
	}
	if len(done) == 0 {
		return
	}
	t.mu.Lock()
	t.cuts = append(t.cuts, done...)
	t.mu.Unlock()
	t.wake()
}

// tracked returns the fd of a connection to cut while the monitor has
// not reported it closed.
func (t *connTable) tracked(k connCut) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.conns[k.fd]
	return k.fd, c != nil && c.id == k.id
}

// cut shuts the connection down if it is one the broker socket accepted
// on its own port and fd still is it.
func (t *connTable) cut(fd int, id connID) error {
	port := t.port.Load()
	_, p, err := net.SplitHostPort(id.local)
	if err != nil || port == 0 || p != strconv.Itoa(int(port)) {
		return errors.Join(errNotThisConn, err)
	}
	return t.ops.cut(fd, id)
}

// setEndpoint records the port of the broker's bound TCP endpoint
// ("tcp://127.0.0.1:5555"); only connections accepted on it are cut.
func (t *connTable) setEndpoint(ep string) {
	host, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return
	}
	_, p, err := net.SplitHostPort(host)
	if err != nil {
		return
	}
	if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 1<<16 {
		t.port.Store(int32(n))
	}
}
