package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// conn is one connection to the receiver.
type conn struct {
	c       net.Conn // the TCP connection, or TLS over it
	tcp     *net.TCPConn
	raw     *countingConn // counts the bytes handed to the TCP socket
	w       *bufio.Writer
	dead    chan struct{} // closed once the receiver closes or resets
	deadErr atomic.Value  // error that closed dead
}

// countingConn counts bytes written to the socket, below TLS.
type countingConn struct {
	net.Conn
	written atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// dial connects to address over TCP and, with cfg, TLS.
func dial(ctx context.Context, address string, cfg *tls.Config, timeout time.Duration) (*conn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("syslog: connect %s: %w", address, err)
	}
	tcp := nc.(*net.TCPConn)
	raw := &countingConn{Conn: tcp}
	c := &conn{c: raw, tcp: tcp, raw: raw, dead: make(chan struct{})}
	if cfg != nil {
		tc := tls.Client(raw, cfg)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			tcp.Close()
			return nil, fmt.Errorf("syslog: TLS handshake with %s: %w", address, err)
		}
		c.c = tc
	}
	c.w = bufio.NewWriterSize(c.c, 64<<10)
	go c.watch()
	return c, nil
}

// watch reads until the receiver closes the connection (a syslog receiver
// never sends data), then closes dead.
func (c *conn) watch() {
	_, err := io.Copy(io.Discard, c.c)
	if err == nil {
		err = errors.New("closed by the receiver")
	}
	c.deadErr.Store(err)
	close(c.dead)
}

// reason returns why the connection died.
func (c *conn) reason() error {
	if err, ok := c.deadErr.Load().(error); ok {
		return fmt.Errorf("syslog: connection lost: %w", err)
	}
	return errors.New("syslog: connection lost")
}

// send buffers one message framed by octet counting (RFC 6587, and RFC
// 5425 over TLS): its length in decimal, a space, the message.
func (c *conn) send(msg []byte) error {
	var hdr [24]byte
	if _, err := c.w.Write(append(strconv.AppendInt(hdr[:0], int64(len(msg)), 10), ' ')); err != nil {
		return fmt.Errorf("syslog: send: %w", err)
	}
	if _, err := c.w.Write(msg); err != nil {
		return fmt.Errorf("syslog: send: %w", err)
	}
	return nil
}

// flush writes the buffered messages and returns the number of bytes
// handed to the TCP socket so far.
func (c *conn) flush(timeout time.Duration) (int64, error) {
	_ = c.c.SetWriteDeadline(time.Now().Add(timeout))
	if err := c.w.Flush(); err != nil {
		return 0, fmt.Errorf("syslog: send: %w", err)
	}
	return c.raw.written.Load(), nil
}

// acked returns how many of the bytes handed to the socket the receiver
// has acknowledged, or ok false when the platform cannot tell.
func (c *conn) acked() (n int64, ok bool) {
	q, err := unackedBytes(c.tcp)
	if err != nil {
		return 0, false
	}
	return c.raw.written.Load() - int64(q), true
}

func (c *conn) close() { _ = c.c.Close() }
