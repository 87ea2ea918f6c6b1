package syslogtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Receiver is an in-process syslog receiver: octet-counted frames (RFC
// 6587) over TCP, or TLS when configured (RFC 5425).
type Receiver struct {
	ln    net.Listener
	mu    sync.Mutex
	msgs  [][]byte
	conns map[net.Conn]struct{}
	errs  []error
	wg    sync.WaitGroup
}

// NewReceiver listens on addr ("127.0.0.1:0" for a free port, or the
// address of an earlier Receiver to stand in for it after a restart).
func NewReceiver(addr string, cfg *tls.Config) (*Receiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("syslogtest: %w", err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	r := &Receiver{ln: ln, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr is the listening address.
func (r *Receiver) Addr() string { return r.ln.Addr().String() }

func (r *Receiver) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(1)
		go r.serve(c)
	}
}

// serve reads frames from one connection.
func (r *Receiver) serve(c net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		msg, err := ReadFrame(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.mu.Lock()
				r.errs = append(r.errs, err)
				r.mu.Unlock()
			}
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, msg)
		r.mu.Unlock()
	}
}

// ReadFrame reads one octet-counted frame: a decimal length, a space, and
// that many bytes.
func ReadFrame(br *bufio.Reader) ([]byte, error) {
	head, err := br.ReadString(' ')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(head[:len(head)-1])
	if err != nil || n <= 0 || n > 4<<20 || head[0] == '0' {
		return nil, fmt.Errorf("syslogtest: bad frame length %q", head)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(br, msg); err != nil {
		return nil, fmt.Errorf("syslogtest: short frame: %w", err)
	}
	return msg, nil
}

// Messages returns a copy of every message received so far.
func (r *Receiver) Messages() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.msgs...)
}

// Errors returns framing errors seen so far.
func (r *Receiver) Errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// WaitFor waits until cond(messages) holds or timeout passes.
func (r *Receiver) WaitFor(timeout time.Duration, cond func([][]byte) bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond(r.Messages()) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close stops listening and drops every connection at once, as a crashed
// receiver would.
func (r *Receiver) Close() error {
	err := r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

// Message is a parsed RFC 5424 message.
type Message struct {
	// PRI is the priority value.
	PRI int
	// Timestamp, Hostname, AppName, ProcID and MsgID are header fields.
	Timestamp, Hostname, AppName, ProcID, MsgID string
	// SD is the structured data, as sent.
	SD string
	// Msg is the free-form message.
	Msg []byte
}

// ParseMessage parses an RFC 5424 message (one SD element or "-").
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if len(b) < 4 || b[0] != '<' {
		return m, errors.New("syslogtest: no PRI")
	}
	end := bytes.IndexByte(b, '>')
	if end < 0 {
		return m, errors.New("syslogtest: no PRI")
	}
	pri, err := strconv.Atoi(string(b[1:end]))
	if err != nil {
		return m, fmt.Errorf("syslogtest: PRI: %w", err)
	}
	m.PRI = pri
	fields := bytes.SplitN(b[end+1:], []byte(" "), 7)
	if len(fields) < 7 || string(fields[0]) != "1" {
		return m, errors.New("syslogtest: short header or not version 1")
	}
	m.Timestamp, m.Hostname, m.AppName, m.ProcID, m.MsgID = string(fields[1]), string(fields[2]), string(fields[3]), string(fields[4]), string(fields[5])
	rest := fields[6]
	if bytes.HasPrefix(rest, []byte("- ")) {
		m.Msg = rest[2:]
		return m, nil
	}
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '\\':
			i++
		case ']':
			m.SD = string(rest[:i+1])
			m.Msg = bytes.TrimPrefix(rest[i+1:], []byte(" "))
			return m, nil
		}
	}
	return m, errors.New("syslogtest: unterminated structured data")
}
