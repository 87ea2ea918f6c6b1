package broker

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/audit/flood"
	"github.com/zapgate/zapgate/broker/internal/netwait"
)

var monitorSeq atomic.Uint64

// monitorEvents are the socket events logged under component=transport.
const monitorEvents = zmq.EVENT_LISTENING | zmq.EVENT_BIND_FAILED | zmq.EVENT_ACCEPTED |
	zmq.EVENT_ACCEPT_FAILED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH |
	zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_DISCONNECTED |
	zmq.EVENT_MONITOR_STOPPED

// monitor logs the broker socket's connection lifecycle. libzmq 4.3.4's
// events name the listening endpoint, not the peer, and handshake events
// carry no connection handle; so the monitor looks the peer address up
// from the file descriptor of ACCEPTED, and reports a handshake failure
// with the peer of the next DISCONNECTED of a connection that carried no
// message (libzmq emits the two from the connection's I/O thread, with at
// most other connections' ACCEPTED in between).
//
// A flood of connections must not flood the log (docs/security.md, "Audit
// budget of unauthenticated peers"): the first few connections of each
// source address per interval are logged in full, and the lines of the
// rest are counted in one summary line per source and interval
// (flood.LineLimiter). A connection the broker read a message from was
// authenticated: its "closed" line is always logged.
type monitor struct {
	pair  *zmq.Socket
	wait  *netwait.Waiter
	log   *slog.Logger
	lines *flood.LineLimiter
	quit  chan struct{}
	done  chan struct{}
	conns map[int]peerConn // by fd
	table *connTable       // told of every accepted and closed connection
	fail  *handshakeFailure
}

// peerConn is an accepted connection.
type peerConn struct {
	peer string     // "ip:port", or "unknown"
	addr netip.Addr // its source address (zero if unknown)
	full bool       // its lines are logged in full
}

type handshakeFailure struct {
	kind  string
	value int
	at    time.Time
}

// failureWait bounds how long a handshake failure waits for the
// DISCONNECTED that names its peer.
const failureWait = 100 * time.Millisecond

func startMonitor(zctx *zmq.Context, sock *zmq.Socket, log *slog.Logger, table *connTable, budget LogBudget) (*monitor, error) {
	lines, err := flood.NewLineLimiter(flood.LineLimiterOptions{Logger: log, Level: slog.LevelInfo,
		Message: "connections summarized", PerSource: budget.PerSource, Interval: budget.Interval,
		MaxSources: budget.MaxSources, MaxLines: budget.MaxLines})
	if err != nil {
		return nil, fmt.Errorf("broker: monitor: %w", err)
	}
	m, err := openMonitor(zctx, sock, log, table, lines)
	if err != nil {
		lines.Close()
		return nil, err
	}
	return m, nil
}

func openMonitor(zctx *zmq.Context, sock *zmq.Socket, log *slog.Logger, table *connTable, lines *flood.LineLimiter) (*monitor, error) {
	addr := fmt.Sprintf("inproc://zapgate-broker-monitor-%d", monitorSeq.Add(1))
	if err := sock.Monitor(addr, monitorEvents); err != nil {
		return nil, fmt.Errorf("broker: monitor: %w", err)
	}
	pair, err := zctx.NewSocket(zmq.PAIR)
	if err != nil {
		return nil, fmt.Errorf("broker: monitor: %w", err)
	}
	_ = pair.SetLinger(0)
	if err := pair.Connect(addr); err != nil {
		pair.Close()
		return nil, fmt.Errorf("broker: monitor: %w", err)
	}
	w, err := netwait.New(pair)
	if err != nil {
		pair.Close()
		return nil, fmt.Errorf("broker: monitor: %w", err)
	}
	m := &monitor{pair: pair, wait: w, log: log, lines: lines, quit: make(chan struct{}), done: make(chan struct{}),
		conns: map[int]peerConn{}, table: table}
	go m.run()
	return m, nil
}

// run reads events until libzmq reports MONITOR_STOPPED (the ROUTER's
// monitor was stopped or the socket closed); only then may the PAIR close.
func (m *monitor) run() {
	defer close(m.done)
	defer m.lines.Close() // the last summaries
	defer m.pair.Close()
	defer m.wait.Close()
	for {
		select {
		case <-m.quit:
			m.flush()
			return
		default:
		}
		ev, addr, value, err := m.pair.RecvEvent(zmq.DONTWAIT)
		if err != nil {
			if !isAgain(err) {
				m.flush()
				m.log.Error("socket monitor failed", "error", err)
				return
			}
			deadline := time.Now().Add(time.Second)
			if m.fail != nil { // give its DISCONNECTED a moment to arrive
				if !time.Now().Before(m.fail.at.Add(failureWait)) {
					m.flush()
				} else {
					deadline = m.fail.at.Add(failureWait)
				}
			}
			if err := m.wait.Wait(deadline); err != nil {
				m.log.Error("socket monitor failed", "error", err)
				return
			}
			continue
		}
		if ev == zmq.EVENT_MONITOR_STOPPED {
			m.flush()
			return
		}
		m.handle(ev, addr, value)
	}
}

func (m *monitor) handle(ev zmq.Event, addr string, value int) {
	switch ev {
	case zmq.EVENT_ACCEPTED:
		// A new connection does not end the wait of a handshake failure
		// for its DISCONNECTED: under a flood, accepts come in between.
		c := peerConn{peer: peerAddress(value)}
		if ap, err := netip.ParseAddrPort(c.peer); err == nil {
			c.addr = ap.Addr().Unmap()
		}
		c.full = m.lines.Allow(c.addr, "accepted")
		m.conns[value] = c
		m.table.accepted(value)
		if c.full {
			m.log.Info("accepted", "peer", c.peer, "endpoint", addr)
		}
	case zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		m.flush()
		m.fail = &handshakeFailure{kind: failureKind(ev), value: value, at: time.Now()}
	case zmq.EVENT_DISCONNECTED:
		c, ok := m.conns[value]
		delete(m.conns, value)
		carried := m.table.closed(value)
		if !ok {
			c = peerConn{peer: "unknown"}
			c.full = m.lines.Allow(c.addr, "closed")
		}
		if f := m.fail; f != nil && !carried { // a connection that carried a message had no failed handshake
			m.fail = nil
			if !c.full {
				m.lines.Count(c.addr, "handshake-failed")
				m.lines.Count(c.addr, "closed")
				return
			}
			m.logFailure(f, c.peer)
		}
		if !c.full && !carried {
			m.lines.Count(c.addr, "closed")
			return
		}
		m.log.Info("closed", "peer", c.peer)
	case zmq.EVENT_HANDSHAKE_SUCCEEDED:
		m.flush()
		m.log.Debug("handshake succeeded", "endpoint", addr)
	case zmq.EVENT_LISTENING:
		m.log.Info("listening", "endpoint", addr)
	case zmq.EVENT_BIND_FAILED, zmq.EVENT_ACCEPT_FAILED:
		m.flush()
		m.log.Error(ev.String(), "endpoint", addr, "errno", value)
	}
}

// flush logs a handshake failure whose connection could not be told,
// within the budget of unknown sources.
func (m *monitor) flush() {
	if f := m.fail; f != nil {
		m.fail = nil
		if m.lines.Allow(netip.Addr{}, "handshake-failed") {
			m.logFailure(f, "unknown")
		}
	}
}

func (m *monitor) logFailure(f *handshakeFailure, peer string) {
	attrs := []any{"peer", peer, "reason", f.kind}
	if f.kind == "auth" {
		attrs = append(attrs, "zap.status", f.value)
	} else {
		attrs = append(attrs, "code", f.value)
	}
	m.log.Warn("handshake failed", attrs...)
}

func failureKind(ev zmq.Event) string {
	switch ev {
	case zmq.EVENT_HANDSHAKE_FAILED_AUTH:
		return "auth"
	case zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
		return "protocol"
	}
	return "no-detail"
}

// stop waits for the monitor goroutine to see MONITOR_STOPPED (call it
// after stopping the socket's monitor), and forces it out after a while.
func (m *monitor) stop() {
	select {
	case <-m.done:
		return
	case <-time.After(2 * time.Second):
		m.log.Warn("socket monitor did not stop; closing it")
	}
	close(m.quit)
	m.wait.Wake()
	<-m.done
}
