package client

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/internal/netwait"
	"github.com/zapgate/zapgate/broker/mdp"
)

type opKind uint8

const (
	opRequest opKind = iota
	opSubscribe
	opUnsubscribe
	opCancel
	opMonitor
	opClose
)

// op is work handed to the connection's goroutine.
type op struct {
	kind      opKind
	service   string
	body      [][]byte
	resp      chan result // nil for the library's own messages
	sub       *subscription
	target    *op // opCancel
	mon       monitorEvent
	sent      bool
	cancelled bool
	done      bool
}

type result struct {
	body [][]byte
	err  error
}

// finish answers the op's caller once.
func (o *op) finish(body [][]byte, err error) {
	if o.done {
		return
	}
	o.done = true
	if o.resp != nil {
		o.resp <- result{body, err}
	}
}

// lane serializes the messages to one service: MDP replies name the
// service but not the request, so one is outstanding at a time.
type lane struct {
	out   *op
	queue []*op
}

// conn is the client connection: one DEALER owned by one goroutine.
type conn struct {
	cl *Client

	mu     sync.Mutex
	inbox  []*op
	dead   bool
	kick   chan struct{}
	waiter atomic.Pointer[netwait.Waiter]

	// Owned by run.
	sock      *zmq.Socket
	wt        *netwait.Waiter
	gen       uint64
	connected bool
	refused   error
	backoff   time.Duration
	reopenAt  time.Time
	resub     bool
	lanes     map[string]*lane
	subs      []*subscription
	closing   bool
}

func newConn(cl *Client) *conn {
	return &conn{cl: cl, kick: make(chan struct{}, 1), lanes: map[string]*lane{}}
}

// post hands an op to the connection goroutine; after Close it fails the
// op at once.
func (c *conn) post(o *op) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		o.finish(nil, ErrClosed)
		return
	}
	c.inbox = append(c.inbox, o)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	if w := c.waiter.Load(); w != nil {
		w.Wake()
	}
}

func (c *conn) postMonitor(ev monitorEvent) { c.post(&op{kind: opMonitor, mon: ev}) }

func (c *conn) run() {
	defer c.cl.wg.Done()
	for {
		if c.sock == nil && !c.closing && !time.Now().Before(c.reopenAt) {
			c.open()
		}
		c.mu.Lock()
		ops := c.inbox
		c.inbox = nil
		c.mu.Unlock()
		for _, o := range ops {
			c.handle(o)
		}
		if c.closing {
			c.shutdown()
			return
		}
		if c.sock != nil {
			c.read()
		}
		c.wait()
	}
}

func (c *conn) wait() {
	select {
	case <-c.kick:
		return
	default:
	}
	deadline := time.Now().Add(time.Second)
	if c.sock == nil {
		deadline = c.reopenAt
	}
	if c.wt != nil {
		if err := c.wt.Wait(deadline); err != nil {
			c.cl.log.Error("wait failed", "error", err)
			c.reset(err)
		}
		return
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-c.kick:
	case <-t.C:
	}
}

func (c *conn) handle(o *op) {
	switch o.kind {
	case opClose:
		c.closing = true
	case opMonitor:
		c.onMonitor(o.mon)
	case opCancel:
		c.cancel(o.target)
	case opUnsubscribe:
		c.unsubscribe(o.sub)
	default:
		if c.refused != nil && !c.connected {
			o.finish(nil, c.refused)
			return
		}
		l := c.lane(o.service)
		l.queue = append(l.queue, o)
		c.pump(l)
	}
}

func (c *conn) lane(service string) *lane {
	l := c.lanes[service]
	if l == nil {
		l = &lane{}
		c.lanes[service] = l
	}
	return l
}

// pump sends the next message of a lane if none is outstanding.
func (c *conn) pump(l *lane) {
	for c.sock != nil && l.out == nil && len(l.queue) > 0 {
		o := l.queue[0]
		l.queue = l.queue[1:]
		_, err := c.sock.SendMessageDontwait("", mdp.ClientHeader, o.service, o.body)
		if err != nil {
			o.finish(nil, fmt.Errorf("client: send to %s: %w", o.service, err))
			continue
		}
		o.sent = true
		l.out = o
	}
}

// read handles every message waiting on the socket.
func (c *conn) read() {
	for c.sock != nil {
		msg, err := c.sock.RecvMessageBytes(zmq.DONTWAIT)
		if err != nil {
			if !isAgain(err) {
				c.reset(fmt.Errorf("client: receive: %w", err))
			}
			return
		}
		if len(msg) < 3 || len(msg[0]) != 0 || string(msg[1]) != mdp.ClientHeader {
			c.cl.log.Warn("ignoring a message that is not an MDPC01 reply", "frames", len(msg))
			continue
		}
		service, body := string(msg[2]), msg[3:]
		if r, ok := mdp.ParseRefusal(body); ok && r.Reason == mdp.ReasonReconnect {
			// The broker cannot address this connection: a new one gets
			// a routing id of its own.
			c.reset(refusalOf(service, body))
			return
		}
		if service == mdp.ServiceEvent {
			c.onEvent(body)
			continue
		}
		l := c.lanes[service]
		if l == nil || l.out == nil {
			c.cl.log.Warn("ignoring an unexpected reply", "service", service)
			continue
		}
		o := l.out
		l.out = nil
		c.complete(o, service, body)
		c.pump(l)
	}
}

// complete answers an op with its reply.
func (c *conn) complete(o *op, service string, body [][]byte) {
	err := refusalOf(service, body)
	switch {
	case o.kind == opSubscribe && err == nil && o.resp != nil && !o.cancelled:
		c.subs = append(c.subs, o.sub)
	case o.kind == opSubscribe && err == nil && o.resp != nil:
		c.unsubscribePattern(o.sub.pattern) // subscribed after the caller gave up
	case o.kind == opSubscribe && err != nil && o.resp == nil:
		c.endPattern(o.sub.pattern, err) // a re-subscription was refused
	}
	if err != nil {
		o.finish(nil, err)
		return
	}
	o.finish(body, nil)
}

// cancel drops an op its caller gave up on: unsent, it is removed; sent,
// its reply will be ignored.
func (c *conn) cancel(o *op) {
	if o.done {
		return
	}
	if !o.sent {
		if l := c.lanes[o.service]; l != nil {
			l.queue = slices.DeleteFunc(l.queue, func(x *op) bool { return x == o })
		}
		o.done = true
		return
	}
	o.cancelled = true
}

// reset closes the socket after a failure; outstanding requests fail
// (their outcome is unknown), queued ones wait for the next connection,
// which is attempted after an exponential backoff.
func (c *conn) reset(cause error) {
	if c.sock == nil {
		return
	}
	lost := cause
	if !errors.Is(cause, ErrHandshake) {
		lost = fmt.Errorf("%w: %w", ErrConnectionLost, cause)
	}
	for _, l := range c.lanes {
		if o := l.out; o != nil {
			l.out = nil
			o.finish(nil, lost)
		}
		l.queue = slices.DeleteFunc(l.queue, func(o *op) bool {
			if o.resp == nil || errors.Is(cause, ErrHandshake) {
				o.finish(nil, lost)
				return true
			}
			return false
		})
	}
	c.closeSocket()
	c.connected = false
	c.resub = len(c.subs) > 0
	for _, s := range c.subs {
		s.gap = true
	}
	c.backoff = c.cl.cfg.backoff(c.backoff)
	c.reopenAt = time.Now().Add(c.backoff)
	c.cl.log.Warn("connection reset; reconnecting", "cause", cause, "in", c.backoff)
}

func (c *conn) open() {
	s, w, err := c.cl.dial()
	if err == nil {
		c.gen++
		if err = c.cl.watch(s, c.gen, c.postMonitor); err != nil {
			w.Close()
			s.Close()
		}
	}
	if err != nil {
		c.backoff = c.cl.cfg.backoff(c.backoff)
		c.reopenAt = time.Now().Add(c.backoff)
		c.cl.log.Error("cannot open the connection", "error", err, "retry_in", c.backoff)
		return
	}
	c.sock, c.wt = s, w
	c.waiter.Store(w)
	for _, l := range c.lanes {
		c.pump(l)
	}
}

func (c *conn) closeSocket() {
	c.waiter.Store(nil)
	if c.wt != nil {
		c.wt.Close()
		c.wt = nil
	}
	if c.sock != nil {
		// Stop the monitor first: libzmq would block its I/O thread
		// sending events to a monitor whose reader is gone.
		_ = c.sock.Monitor("", 0)
		c.sock.Close()
		c.sock = nil
	}
}

func (c *conn) onMonitor(ev monitorEvent) {
	if ev.gen != c.gen || c.sock == nil {
		return
	}
	switch ev.event {
	case zmq.EVENT_HANDSHAKE_SUCCEEDED:
		c.connected, c.refused, c.backoff = true, nil, 0
		c.cl.log.Info("connected", "endpoint", c.cl.cfg.Endpoint)
		if c.resub {
			c.resub = false
			c.resubscribe()
		}
	case zmq.EVENT_HANDSHAKE_FAILED_AUTH:
		c.refused = fmt.Errorf("%w (ZAP status %d)", ErrHandshake, ev.value)
		c.reset(c.refused)
	case zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		c.reset(fmt.Errorf("client: handshake failed (%s, code %d): check the broker's public key", ev.event, ev.value))
	case zmq.EVENT_DISCONNECTED:
		if c.connected {
			c.reset(errors.New("disconnected"))
		}
	}
}

func (c *conn) shutdown() {
	c.mu.Lock()
	c.dead = true
	late := c.inbox
	c.inbox = nil
	c.mu.Unlock()
	for _, o := range late {
		o.finish(nil, ErrClosed)
	}
	for _, l := range c.lanes {
		if l.out != nil {
			l.out.finish(nil, ErrClosed)
		}
		for _, o := range l.queue {
			o.finish(nil, ErrClosed)
		}
	}
	for _, s := range c.subs {
		s.end(ErrClosed)
	}
	c.subs = nil
	c.closeSocket()
}
