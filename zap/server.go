package zap

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pebbe/zmq4"
)

// Endpoint is where libzmq looks for a ZAP handler in a context.
const Endpoint = "inproc://zeromq.zap.01"

// SelfTestDomain is reserved for the startup self-test: the server answers
// every request in this ZAP domain with 400 itself, without consulting the
// Authenticator. Do not configure it as a socket's ZMQ_ZAP_DOMAIN.
const SelfTestDomain = "zapgate.self-test"

// Server answers ZAP requests for one zmq4.Context by asking an
// Authenticator, concurrently and with a deadline per request.
//
// Lifecycle: NewServer, then Start (which proves the server answers before
// returning), then Close. Bind CURVE sockets only after Start returned nil,
// and close them before calling Close: when no ZAP handler is bound,
// libzmq 4.3.4 accepts every CURVE client.
//
// Design: one goroutine (the loop) owns the ROUTER bound on Endpoint and
// blocks on it alone. It queues requests for a pool of workers; each worker
// calls the Authenticator and sends its decision back over its own DEALER,
// connected to the same ROUTER and tagged with a per-server random token.
// The loop answers each request exactly once, by routing id: with the
// worker's decision, or 300 on overload, timeout or shutdown.
type Server struct {
	zctx *zmq4.Context
	auth Authenticator
	cfg  Config
	log  *slog.Logger

	life    sync.Mutex // serializes Start and Close
	mu      sync.Mutex // guards state and failErr
	state   serverState
	failErr error

	ctx    context.Context // cancelled by Close; parent of every request context
	cancel context.CancelFunc

	token    []byte          // marks internal messages on the ROUTER
	ctl      *lockedSocket   // DEALER used by Close to stop the loop
	outs     []*lockedSocket // one DEALER per worker
	jobs     chan job        // loop → workers; closed by the loop when it exits
	stop     chan struct{}   // closed by Close
	loopDone chan struct{}   // closed when the loop has closed the ROUTER
	done     chan struct{}   // closed when the server stops answering
	doneOnce sync.Once
	workers  sync.WaitGroup

	stats counters
}

type serverState int

const (
	stateNew serverState = iota
	stateRunning
	stateClosed
)

// NewServer validates cfg and returns a server that is not yet listening.
// It does not modify cfg.
func NewServer(zctx *zmq4.Context, a Authenticator, cfg Config) (*Server, error) {
	if zctx == nil {
		return nil, errors.New("zap: new server: nil context")
	}
	if a == nil {
		return nil, errors.New("zap: new server: nil authenticator")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("zap: new server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		zctx: zctx, auth: a, cfg: c,
		log:      c.Logger.With(slog.String("component", "zap")),
		ctx:      ctx,
		cancel:   cancel,
		jobs:     make(chan job, c.QueueSize),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		done:     make(chan struct{}),
	}, nil
}

// Start binds a ROUTER socket on Endpoint in the server's context, starts
// the loop and the worker pool, then runs a self-test: a DEALER on Endpoint
// sends a request in SelfTestDomain that must come back, through the queue
// and a worker, as a well-formed 400 reply. Start returns nil only when the
// self-test passed; on error the server is stopped and every socket it
// opened is closed. Start fails if another socket in the context holds
// Endpoint (after retrying for half a second, see bindRetry).
func (s *Server) Start() error {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	if s.state != stateNew {
		s.mu.Unlock()
		return errors.New("zap: start: server already started or closed")
	}
	s.state = stateRunning
	s.mu.Unlock()

	router, err := s.openSockets()
	if err != nil {
		s.setClosed()
		return fmt.Errorf("zap: start: %w", err)
	}
	l := newLoop(s, router)
	go l.run()
	s.workers.Add(len(s.outs))
	for _, out := range s.outs {
		go s.worker(out)
	}

	if err := s.selfTest(); err != nil {
		cerr := s.shutdown()
		return errors.Join(fmt.Errorf("zap: start: self-test: %w", err), cerr)
	}
	s.log.Info("zap server listening", slog.String("endpoint", Endpoint),
		slog.Int("workers", s.cfg.Workers), slog.Int("queue_size", s.cfg.QueueSize),
		slog.Duration("timeout", s.cfg.Timeout))
	return nil
}

// openSockets binds the ZAP ROUTER and connects the control DEALER and one
// DEALER per worker to it. On error every socket it opened is closed.
func (s *Server) openSockets() (_ *zmq4.Socket, err error) {
	var opened []*zmq4.Socket
	defer func() {
		if err != nil {
			for _, so := range opened {
				so.Close()
			}
		}
	}()
	open := func(t zmq4.Type) (*zmq4.Socket, error) {
		so, err := s.zctx.NewSocket(t)
		if err != nil {
			return nil, fmt.Errorf("new %s socket: %w", t, err)
		}
		opened = append(opened, so)
		if err := so.SetLinger(0); err != nil {
			return nil, fmt.Errorf("set linger on %s: %w", t, err)
		}
		return so, nil
	}
	s.token = make([]byte, 16)
	if _, err := rand.Read(s.token); err != nil {
		return nil, fmt.Errorf("random token: %w", err)
	}
	router, err := open(zmq4.ROUTER)
	if err != nil {
		return nil, err
	}
	// libzmq disables the HWM on its side of ZAP pipes; do the same for
	// the workers' pipes so that a decision is never dropped or blocked.
	if err := router.SetRcvhwm(0); err != nil {
		return nil, fmt.Errorf("set rcvhwm: %w", err)
	}
	if err := bindEndpoint(router); err != nil {
		return nil, err
	}
	dealers := make([]*lockedSocket, 0, s.cfg.Workers+1)
	for range s.cfg.Workers + 1 {
		d, err := open(zmq4.DEALER)
		if err != nil {
			return nil, err
		}
		if err := d.SetSndhwm(0); err != nil {
			return nil, fmt.Errorf("set sndhwm: %w", err)
		}
		if err := d.Connect(Endpoint); err != nil {
			return nil, fmt.Errorf("connect %s: %w", Endpoint, err)
		}
		dealers = append(dealers, &lockedSocket{so: d})
	}
	s.ctl, s.outs = dealers[0], dealers[1:]
	return router, nil
}

// bindRetry is how long Start keeps trying to bind Endpoint while it is in
// use: libzmq releases an inproc endpoint asynchronously (in its reaper
// thread) after the socket that bound it is closed, so a server restarted
// in the same context right after Close may briefly find it taken.
const bindRetry = 500 * time.Millisecond

func bindEndpoint(router *zmq4.Socket) error {
	deadline := time.Now().Add(bindRetry)
	for {
		err := router.Bind(Endpoint)
		if err == nil {
			return nil
		}
		if !errors.Is(err, zmq4.EADDRINUSE) || time.Now().After(deadline) {
			return fmt.Errorf("bind %s: %w", Endpoint, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close stops the server: requests still pending are answered 300, every
// socket the server opened is closed (linger 0) and its goroutines are
// joined. Workers are given the configured Timeout to leave an
// Authenticator that ignores its context; Close reports those that did
// not, but never waits longer. Close is safe to call more than once.
//
// Close the CURVE sockets first: once the ZAP endpoint is gone, libzmq
// 4.3.4 lets every CURVE client in without asking.
func (s *Server) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	return s.shutdown()
}

func (s *Server) shutdown() error {
	s.mu.Lock()
	prev := s.state
	s.state = stateClosed
	s.mu.Unlock()
	if prev != stateRunning {
		if prev == stateNew {
			s.cancel()
			s.markDone()
		}
		return nil
	}
	// Stop the loop first, so that it answers what is pending with 300
	// "shutting down"; then cancel the workers' contexts.
	close(s.stop)
	if err := s.ctl.send(s.token, []byte{kindStop}); err != nil {
		s.log.Debug("zap stop message not sent", slog.Any("error", err))
	}
	<-s.loopDone
	s.cancel()
	s.closeDealers()

	joined := make(chan struct{})
	go func() { s.workers.Wait(); close(joined) }()
	timer := time.NewTimer(s.cfg.Timeout)
	defer timer.Stop()
	select {
	case <-joined:
	case <-timer.C:
		return errors.New("zap: close: workers still inside the Authenticator; they will exit when it returns")
	}
	s.log.Info("zap server closed")
	return nil
}

// closeDealers closes the control and worker DEALERs. A worker that is
// inside the Authenticator holds no lock, so this never waits for it.
func (s *Server) closeDealers() {
	for _, d := range append([]*lockedSocket{s.ctl}, s.outs...) {
		if err := d.close(); err != nil {
			s.log.Warn("zap close socket", slog.Any("error", err))
		}
	}
}

// Done is closed when the server stops answering: on Close, or when the
// loop failed (see Err).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns why the server stopped answering on its own (for example
// because the context was terminated), or nil.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failErr
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

func (s *Server) setClosed() {
	s.mu.Lock()
	s.state = stateClosed
	s.mu.Unlock()
	s.cancel()
	s.markDone()
}

// fail records why the loop stopped answering and closes Done.
func (s *Server) fail(err error) {
	s.mu.Lock()
	if s.failErr == nil {
		s.failErr = err
	}
	s.mu.Unlock()
	s.log.Error("zap server stopped answering", slog.Any("error", err))
	s.markDone()
}

func (s *Server) markDone() { s.doneOnce.Do(func() { close(s.done) }) }
