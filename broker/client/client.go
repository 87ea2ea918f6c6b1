package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/mdp"
)

// Client is a zapgate node's connection to the broker. Create it with New
// and Close it when done; it is safe for concurrent use.
type Client struct {
	cfg  Config
	zctx *zmq.Context
	log  *slog.Logger
	conn *conn

	closing atomic.Bool
	stop    context.CancelFunc // cancels Serve calls
	stopCtx context.Context
	wg      sync.WaitGroup // every goroutine the Client started
	once    sync.Once
}

// New validates cfg and starts the client connection; it connects in the
// background (and reconnects with backoff), so New does not wait for the
// broker.
func New(cfg Config) (*Client, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("client: new context: %w", err)
	}
	cl := &Client{cfg: c, zctx: zctx, log: c.Logger.With("component", "client")}
	cl.stopCtx, cl.stop = context.WithCancel(context.Background())
	cl.conn = newConn(cl)
	cl.wg.Add(1)
	go cl.conn.run()
	return cl, nil
}

// Close stops Serve calls (their workers send DISCONNECT), fails requests
// still waiting with ErrClosed, ends subscriptions, closes every socket and
// terminates the ZeroMQ context.
func (c *Client) Close() error {
	var err error
	c.once.Do(func() {
		c.closing.Store(true)
		c.stop()
		c.conn.post(&op{kind: opClose})
		c.wg.Wait()
		err = c.zctx.Term()
	})
	return err
}

// Request sends command with payload to service and returns the reply
// body. A broker refusal is a *RefusedError. Requests to the same service
// are sent one at a time (MDP replies carry no request id); requests to
// different services run concurrently. If ctx ends first, Request
// returns ctx.Err() and the late reply is discarded.
func (c *Client) Request(ctx context.Context, service, command string, payload ...[]byte) ([][]byte, error) {
	if err := mdp.CheckName(service); err != nil {
		return nil, fmt.Errorf("client: service %q: %w", service, err)
	}
	if err := mdp.CheckName(command); err != nil {
		return nil, fmt.Errorf("client: command %q: %w", command, err)
	}
	body := append([][]byte{[]byte(command)}, payload...)
	return c.call(ctx, service, body)
}

// Publish publishes an event on topic and returns once the broker has
// authorized it and handed it to the subscribers' queues.
func (c *Client) Publish(ctx context.Context, topic string, payload ...[]byte) error {
	if err := mdp.CheckName(topic); err != nil {
		return fmt.Errorf("client: topic %q: %w", topic, err)
	}
	_, err := c.call(ctx, mdp.ServicePublish, append([][]byte{[]byte(topic)}, payload...))
	return err
}

// Subscribe subscribes to topics matching pattern ("job.*" matches one
// segment, a final "**" one or more) and returns the channel of events.
// The channel is closed when ctx ends, when the Client closes, or when the
// broker ends the subscription (the last Event then carries Err). After a
// reconnection the library subscribes again; the next Event has Gap set.
func (c *Client) Subscribe(ctx context.Context, pattern string) (<-chan Event, error) {
	if err := mdp.CheckPattern(pattern); err != nil {
		return nil, fmt.Errorf("client: pattern %q: %w", pattern, err)
	}
	o := &op{kind: opSubscribe, service: mdp.ServiceSubscribe, body: [][]byte{[]byte(pattern)},
		resp: make(chan result, 1), sub: &subscription{pattern: pattern, ch: make(chan Event, c.cfg.EventBuffer)}}
	if _, err := c.wait(ctx, o); err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { c.conn.post(&op{kind: opUnsubscribe, sub: o.sub}) })
	return o.sub.ch, nil
}

// call sends a request and waits for its reply.
func (c *Client) call(ctx context.Context, service string, body [][]byte) ([][]byte, error) {
	return c.wait(ctx, &op{kind: opRequest, service: service, body: body, resp: make(chan result, 1)})
}

func (c *Client) wait(ctx context.Context, o *op) ([][]byte, error) {
	if c.closing.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.conn.post(o)
	select {
	case r := <-o.resp:
		return r.body, r.err
	case <-ctx.Done():
		c.conn.post(&op{kind: opCancel, target: o})
		return nil, ctx.Err()
	}
}

func isAgain(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN)
}
