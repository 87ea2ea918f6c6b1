package broker

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
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
// with the peer of the DISCONNECTED that immediately follows it (libzmq
// emits the two back to back from the connection's I/O thread).
type monitor struct {
	pair  *zmq.Socket
	wait  *netwait.Waiter
	log   *slog.Logger
	quit  chan struct{}
	done  chan struct{}
	conns map[int]string // fd → peer address
	table *connTable     // told of every accepted and closed connection
	fail  *handshakeFailure
}

type handshakeFailure struct {
	kind  string
	value int
	at    time.Time
}

// failureWait bounds how long a handshake failure waits for the
// DISCONNECTED that names its peer.
const failureWait = 100 * time.Millisecond

func startMonitor(zctx *zmq.Context, sock *zmq.Socket, log *slog.Logger, table *connTable) (*monitor, error) {
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
	m := &monitor{pair: pair, wait: w, log: log, quit: make(chan struct{}), done: make(chan struct{}), conns: map[int]string{}, table: table}
	go m.run()
	return m, nil
}

// run reads events until libzmq reports MONITOR_STOPPED (the ROUTER's
// monitor was stopped or the socket closed); only then may the PAIR close.
func (m *monitor) run() {
	defer close(m.done)
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
		m.flush()
		peer := peerAddress(value)
		m.conns[value] = peer
		m.table.accepted(value)
		m.log.Info("accepted", "peer", peer, "endpoint", addr)
	case zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		m.flush()
		m.fail = &handshakeFailure{kind: failureKind(ev), value: value, at: time.Now()}
	case zmq.EVENT_DISCONNECTED:
		peer, ok := m.conns[value]
		delete(m.conns, value)
		m.table.closed(value)
		if !ok {
			peer = "unknown"
		}
		if f := m.fail; f != nil {
			m.fail = nil
			m.logFailure(f, peer)
		}
		m.log.Info("closed", "peer", peer)
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

// flush logs a handshake failure whose connection could not be told.
func (m *monitor) flush() {
	if f := m.fail; f != nil {
		m.fail = nil
		m.logFailure(f, "unknown")
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
