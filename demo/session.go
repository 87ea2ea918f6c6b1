package demo

import (
	"errors"
	"fmt"
	"io"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/zap"
)

// session holds the demo's live sockets and components.
type session struct {
	registryDir string
	server      *certs.Cert
	proxy       *certs.Cert
	intruder    *certs.Cert
	registry    *certs.Registry
	audit       *audit.Log
	ctx         *zmq.Context
	zap         *zap.Server
	router      *zmq.Socket
	monitor     *zmq.Socket
	endpoint    string
	out         io.Writer
}

// bind creates the CURVE ROUTER on 127.0.0.1 and a monitor for its
// handshake events.
func (s *session) bind() error {
	r, err := s.ctx.NewSocket(zmq.ROUTER)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s.router = r
	_ = r.SetLinger(0)
	if err := r.SetCurveServer(1); err != nil {
		return fmt.Errorf("demo: curve server: %w", err)
	}
	if err := r.SetCurveSecretkey(string(s.server.Secret[:])); err != nil {
		return fmt.Errorf("demo: curve secret: %w", err)
	}
	if err := r.SetZapDomain("demo"); err != nil {
		return fmt.Errorf("demo: zap domain: %w", err)
	}
	monAddr := "inproc://demo-monitor"
	if err := r.Monitor(monAddr, zmq.EVENT_HANDSHAKE_SUCCEEDED|zmq.EVENT_HANDSHAKE_FAILED_AUTH|zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL|zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL); err != nil {
		return fmt.Errorf("demo: monitor: %w", err)
	}
	m, err := s.ctx.NewSocket(zmq.PAIR)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s.monitor = m
	_ = m.SetLinger(0)
	if err := m.Connect(monAddr); err != nil {
		return fmt.Errorf("demo: monitor: %w", err)
	}
	if err := r.Bind("tcp://127.0.0.1:*"); err != nil {
		return fmt.Errorf("demo: bind: %w", err)
	}
	s.endpoint, err = r.GetLastEndpoint()
	return err
}

// connect opens a CURVE DEALER with the node's keys, sends one message
// and returns the socket (the caller closes it).
func (s *session) connect(node *certs.Cert) (*zmq.Socket, error) {
	d, err := s.ctx.NewSocket(zmq.DEALER)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	_ = d.SetLinger(0)
	if err := d.ClientAuthCurve(s.server.Public.String(), node.Public.String(), node.Secret.Z85()); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: curve client: %w", err)
	}
	if err := d.Connect(s.endpoint); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: connect: %w", err)
	}
	if _, err := d.SendMessage("task.status", "hello"); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: send: %w", err)
	}
	return d, nil
}

// event waits for the next handshake event on the monitor.
func (s *session) event() (zmq.Event, error) {
	p := zmq.NewPoller()
	p.Add(s.monitor, zmq.POLLIN)
	ready, err := p.Poll(handshakeWait)
	if err != nil {
		return 0, err
	}
	if len(ready) == 0 {
		return 0, errors.New("no handshake event within " + handshakeWait.String())
	}
	ev, _, _, err := s.monitor.RecvEvent(0)
	return ev, err
}

func (s *session) expectAccepted(node *certs.Cert, principal string) error {
	d, err := s.connect(node)
	if err != nil {
		return err
	}
	defer d.Close()
	ev, err := s.event()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if ev != zmq.EVENT_HANDSHAKE_SUCCEEDED {
		return fmt.Errorf("demo: enrolled key: handshake event %v, want HANDSHAKE_SUCCEEDED", ev)
	}
	p := zmq.NewPoller()
	p.Add(s.router, zmq.POLLIN)
	ready, err := p.Poll(handshakeWait)
	if err != nil || len(ready) == 0 {
		return fmt.Errorf("demo: enrolled key: no message arrived (%v)", err)
	}
	frames, props, err := recvWithMetadata(s.router, "User-Id", "X-Zapgate-Key")
	if err != nil {
		return fmt.Errorf("demo: recv: %w", err)
	}
	if props["User-Id"] != principal {
		return fmt.Errorf("demo: User-Id = %q, want %q", props["User-Id"], principal)
	}
	key, _ := certs.ParsePublicKey(props["X-Zapgate-Key"])
	fmt.Fprintf(s.out, "   accepted: message %q arrived with User-Id=%q key=%s\n", frames[1:], props["User-Id"], key.Fingerprint())
	return nil
}

func (s *session) expectRefused(node *certs.Cert) error {
	d, err := s.connect(node)
	if err != nil {
		return err
	}
	defer d.Close()
	ev, err := s.event()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if ev != zmq.EVENT_HANDSHAKE_FAILED_AUTH {
		return fmt.Errorf("demo: handshake event %v, want HANDSHAKE_FAILED_AUTH", ev)
	}
	p := zmq.NewPoller()
	p.Add(s.router, zmq.POLLIN)
	if ready, _ := p.Poll(200 * time.Millisecond); len(ready) > 0 {
		return errors.New("demo: a refused node's message was delivered")
	}
	fmt.Fprintln(s.out, "   refused: HANDSHAKE_FAILED_AUTH on the broker socket, no message delivered")
	return nil
}

// close stops everything in the order libzmq needs: sockets, ZAP server,
// then the context.
func (s *session) close() error {
	var errs []error
	for _, sock := range []*zmq.Socket{s.monitor, s.router} {
		if sock != nil {
			errs = append(errs, sock.Close())
		}
	}
	if s.zap != nil {
		errs = append(errs, s.zap.Close())
	}
	if s.registry != nil {
		errs = append(errs, s.registry.Close())
	}
	if s.audit != nil {
		errs = append(errs, s.audit.Close())
	}
	if s.ctx != nil {
		errs = append(errs, s.ctx.Term())
	}
	return errors.Join(errs...)
}

// recvWithMetadata receives a whole ROUTER message and reads the connection
// properties from its first body frame. libzmq 4.3.4 drops the metadata of
// the routing-id frame when the message was prefetched by a poll, so the
// routing-id frame cannot be trusted to carry it.
func recvWithMetadata(sock *zmq.Socket, props ...string) ([][]byte, map[string]string, error) {
	id, err := sock.RecvBytes(0)
	if err != nil {
		return nil, nil, err
	}
	if more, _ := sock.GetRcvmore(); !more {
		return nil, nil, errors.New("message without a body")
	}
	rest, meta, err := sock.RecvMessageBytesWithMetadata(0, props...)
	if err != nil {
		return nil, nil, err
	}
	return append([][]byte{id}, rest...), meta, nil
}
