package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/internal/netwait"
	"github.com/zapgate/zapgate/internal/zmqfd"
	"github.com/zapgate/zapgate/zap"
)

// Connection properties the broker reads, with exactly this spelling
// (libzmq's lookups are case-sensitive). The ZAP handler sets User-Id and
// PropKey on every accepted connection; libzmq sets Peer-Address.
const (
	propUserID  = "User-Id"
	propKey     = "X-Zapgate-Key" // authn.PropKey
	propAddress = "Peer-Address"
)

// Broker is zapgate's authorizing Majordomo relay: one CURVE ROUTER socket
// that speaks MDP 0.2 to clients (MDPC01) and workers (MDPW01), plus
// zapgate's job-status extension, and asks an Authorizer about every
// message and a Recorder to audit every decision before acting on it.
//
// One goroutine (Run's loop) owns the socket. Authorization and audit run
// on a pool of goroutines so a slow directory or disk never stalls
// heartbeats; a peer's messages are still handled in order.
type Broker struct {
	cfg   Config
	zctx  *zmq.Context
	log   *slog.Logger
	tlog  *slog.Logger
	pool  *pool
	box   mailbox
	stats counters

	sock     *zmq.Socket     // the CURVE ROUTER; owned by the loop
	recv     *zmqfd.Receiver // receives from sock with each frame's connection; owned by the loop
	conns    *connTable      // the accepted connections, cut past MaxConnectionBacklog (conns.go)
	connStop chan struct{}   // stops the connection checker
	connDone chan struct{}   // closed when it has stopped
	waiter   *netwait.Waiter
	mon      *monitor
	endpoint string

	mu      sync.Mutex // guards started, closed
	started bool
	closed  bool
	stop    atomic.Bool // asks the loop for a graceful stop
	zapLost atomic.Bool // the ZAP server stopped: stop at once
	done    chan struct{}

	st state // owned by the loop
}

// New checks that a ZAP handler is bound in zctx (security invariant 1:
// libzmq 4.3.4 accepts every CURVE client when none is), then creates the
// CURVE ROUTER, starts its socket monitor and binds cfg.Endpoint. Start the
// zap.Server first, and close the Broker before the zap.Server. A nil
// logger discards logs; authz and rec are required.
func New(zctx *zmq.Context, cfg Config, authz Authorizer, rec Recorder, log *slog.Logger) (*Broker, error) {
	if zctx == nil || authz == nil || rec == nil {
		return nil, errors.New("broker: new: nil context, authorizer or recorder")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := requireZAP(zctx); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Broker{
		cfg: c, zctx: zctx,
		log:  log.With("component", "broker"),
		tlog: log.With("component", "transport"),
		done: make(chan struct{}),
	}
	b.st.init()
	b.conns = newConnTable(newConnOps(), c.MaxConnectionBacklog, c.Offenders, b.tlog)
	if err := b.open(); err != nil {
		b.closeSockets()
		return nil, err
	}
	b.box.wake = b.waiter.Wake
	b.conns.wake = b.waiter.Wake
	b.pool = newPool(c.Parallelism, authz, rec, b.log, c.CheckTimeout, &b.box)
	b.log.Info("broker listening", "endpoint", b.endpoint, "heartbeat", c.Heartbeat, "liveness", c.Liveness,
		"no_worker_wait", c.NoWorkerWait, "recheck", c.Recheck)
	return b, nil
}

// requireZAP fails unless something is bound on the ZAP endpoint in zctx:
// binding there succeeds only when no handler is.
func requireZAP(zctx *zmq.Context) error {
	probe, err := zctx.NewSocket(zmq.PAIR)
	if err != nil {
		return fmt.Errorf("broker: probe zap handler: %w", err)
	}
	defer probe.Close()
	_ = probe.SetLinger(0)
	err = probe.Bind(zap.Endpoint)
	switch {
	case err == nil:
		return errors.New("broker: no ZAP handler is bound in this context; start the zap.Server before the broker")
	case zmq.AsErrno(err) == zmq.Errno(syscall.EADDRINUSE):
		return nil
	}
	return fmt.Errorf("broker: probe zap handler: %w", err)
}

// open creates the ROUTER and its monitor, then binds.
func (b *Broker) open() error {
	var err error
	if b.sock, err = b.zctx.NewSocket(zmq.ROUTER); err != nil {
		return fmt.Errorf("broker: new socket: %w", err)
	}
	s, c := b.sock, &b.cfg
	opts := []struct {
		name string
		err  error
	}{
		{"linger", s.SetLinger(0)},
		{"router mandatory", s.SetRouterMandatory(1)},
		{"send hwm", s.SetSndhwm(c.SendHWM)},
		{"receive hwm", s.SetRcvhwm(c.ReceiveHWM)},
		{"max message size", s.SetMaxmsgsize(c.MaxMessageSize)},
		{"curve server", s.SetCurveServer(1)},
		{"curve secret key", s.SetCurveSecretkey(string(c.ServerSecret[:]))},
		{"zap domain", s.SetZapDomain(c.ZAPDomain)},
		{"handshake interval", s.SetHandshakeIvl(c.HandshakeTimeout)},
	}
	for _, o := range opts {
		if o.err != nil {
			return fmt.Errorf("broker: set %s: %w", o.name, o.err)
		}
	}
	if b.recv, err = zmqfd.New(s, propUserID, propKey, propAddress); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if b.waiter, err = netwait.New(s); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if b.mon, err = startMonitor(b.zctx, s, b.tlog, b.conns, b.cfg.UnauthenticatedLogs); err != nil {
		return err
	}
	if err := s.Bind(c.Endpoint); err != nil {
		return fmt.Errorf("broker: bind %s: %w", c.Endpoint, err)
	}
	if b.endpoint, err = s.GetLastEndpoint(); err != nil {
		return fmt.Errorf("broker: last endpoint: %w", err)
	}
	b.conns.setEndpoint(b.endpoint)
	return nil
}

// Endpoint returns the endpoint the socket is bound to, with the port
// the system chose for "tcp://127.0.0.1:*".
func (b *Broker) Endpoint() string { return b.endpoint }

// Run relays messages until ctx is done or Close is called, then shuts
// down gracefully: it refuses new work (503 shutting-down), lets
// authorizations in flight and busy workers finish for up to
// Config.DrainTimeout, answers every request still open, sends DISCONNECT
// to every worker and closes the socket. Every audit event of an action
// the broker took has been recorded (or its failure logged) when Run
// returns. Run returns nil after a graceful stop, and an error if the
// socket failed or the ZAP server stopped (Config.ZAPDone). Run may be
// called once.
func (b *Broker) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.started || b.closed {
		b.mu.Unlock()
		return errors.New("broker: run: already running or closed")
	}
	b.started = true
	b.mu.Unlock()
	defer close(b.done)
	defer context.AfterFunc(ctx, b.requestStop)()
	if b.cfg.ZAPDone != nil {
		go func() {
			select {
			case <-b.cfg.ZAPDone:
				b.zapLost.Store(true)
				b.requestStop()
			case <-b.done:
			}
		}()
	}
	b.connStop, b.connDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(b.connDone)
		b.conns.run(b.connStop)
	}()
	err := b.loop()
	close(b.connStop)
	<-b.connDone
	b.closeSockets()
	if b.zapLost.Load() {
		err = errors.Join(err, errors.New("broker: the ZAP server stopped; socket closed"))
	}
	b.log.Info("broker stopped", "error", err)
	return err
}

// Close stops Run gracefully and waits for it; if Run was never called it
// closes the sockets. It is safe to call more than once.
func (b *Broker) Close() error {
	b.mu.Lock()
	first := !b.closed
	b.closed = true
	started := b.started
	b.mu.Unlock()
	if !started {
		if first {
			b.closeSockets()
			close(b.done)
		}
		return nil
	}
	b.requestStop()
	<-b.done
	return nil
}

func (b *Broker) requestStop() {
	b.stop.Store(true)
	b.waiter.Wake()
}

// closeSockets closes the ROUTER (with a short linger so the last replies
// and DISCONNECTs leave), its monitor and the pool.
func (b *Broker) closeSockets() {
	if b.waiter != nil {
		_ = b.waiter.Close()
	}
	if b.sock != nil {
		// Stop the monitor before closing: libzmq's I/O thread sends
		// monitor events with a blocking send, and would hang the whole
		// context if the monitor's reading end went away first.
		_ = b.sock.Monitor("", 0)
		if !b.zapLost.Load() {
			_ = b.sock.SetLinger(closeLinger)
		}
		_ = b.sock.Close()
	}
	if b.recv != nil {
		b.recv.Close()
	}
	if b.mon != nil {
		b.mon.stop()
	}
	if b.pool != nil && !b.pool.close(b.cfg.CheckTimeout) {
		b.log.Error("authorizer or recorder calls still running after shutdown")
	}
}
