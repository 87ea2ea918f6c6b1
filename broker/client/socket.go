package client

import (
	"fmt"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/internal/netwait"
)

var monitorSeq atomic.Uint64

// dial creates a CURVE DEALER connected to the broker. The caller's
// goroutine owns it.
func (c *Client) dial() (*zmq.Socket, *netwait.Waiter, error) {
	s, err := c.zctx.NewSocket(zmq.DEALER)
	if err != nil {
		return nil, nil, fmt.Errorf("client: new socket: %w", err)
	}
	cfg := &c.cfg
	for _, err := range []error{
		s.SetLinger(0),
		s.ClientAuthCurve(cfg.ServerKey.String(), cfg.PublicKey.String(), cfg.SecretKey.Z85()),
		s.SetReconnectIvl(cfg.ReconnectMin),
		s.SetReconnectIvlMax(cfg.ReconnectMax),
		// ZMTP heartbeats detect a dead TCP connection.
		s.SetHeartbeatIvl(cfg.Heartbeat),
		s.SetHeartbeatTimeout(cfg.expiry()),
	} {
		if err != nil {
			s.Close()
			return nil, nil, fmt.Errorf("client: socket option: %w", err)
		}
	}
	w, err := netwait.New(s)
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	if err := s.Connect(cfg.Endpoint); err != nil {
		w.Close()
		s.Close()
		return nil, nil, fmt.Errorf("client: connect %s: %w", cfg.Endpoint, err)
	}
	return s, w, nil
}

// monitorEvent is a connection event of the client socket.
type monitorEvent struct {
	gen   uint64
	event zmq.Event
	value int
}

// watch starts a goroutine that reports the handshake and disconnection
// events of s (generation gen) to post, until s is closed.
func (c *Client) watch(s *zmq.Socket, gen uint64, post func(monitorEvent)) error {
	addr := fmt.Sprintf("inproc://zapgate-client-monitor-%d", monitorSeq.Add(1))
	events := zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
		zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_DISCONNECTED | zmq.EVENT_MONITOR_STOPPED
	if err := s.Monitor(addr, events); err != nil {
		return fmt.Errorf("client: monitor: %w", err)
	}
	pair, err := c.zctx.NewSocket(zmq.PAIR)
	if err != nil {
		return fmt.Errorf("client: monitor: %w", err)
	}
	_ = pair.SetLinger(0)
	if err := pair.Connect(addr); err != nil {
		pair.Close()
		return fmt.Errorf("client: monitor: %w", err)
	}
	w, err := netwait.New(pair)
	if err != nil {
		pair.Close()
		return fmt.Errorf("client: monitor: %w", err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer pair.Close()
		defer w.Close()
		// Read until MONITOR_STOPPED (closeSocket stops the monitor):
		// closing the PAIR earlier could block libzmq's I/O thread.
		var closingSince time.Time
		for {
			ev, _, value, err := pair.RecvEvent(zmq.DONTWAIT)
			switch {
			case err == nil && ev == zmq.EVENT_MONITOR_STOPPED:
				return
			case err == nil:
				post(monitorEvent{gen: gen, event: ev, value: value})
			case !isAgain(err):
				return
			default:
				if c.closing.Load() {
					if closingSince.IsZero() {
						closingSince = time.Now()
					} else if time.Since(closingSince) > 2*time.Second {
						return
					}
				}
				if w.Wait(time.Now().Add(200*time.Millisecond)) != nil {
					return
				}
			}
		}
	}()
	return nil
}
