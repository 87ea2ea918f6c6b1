package zap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/pebbe/zmq4"
)

// Internal messages reach the ROUTER from the server's own DEALERs as
// [routing id, token, kind or seq, ...]; a ZAP request from libzmq always
// has an empty delimiter in that place instead.
const (
	kindStop = 'S' // [token, "S"]: Close was called
	// A decision is [token, seq (8 bytes), the 7 frames of Reply.Frames].
)

// useNetpoller selects waiting in Go's netpoller (see readiness) over
// blocking in libzmq; tests turn it off to cover the fallback.
var useNetpoller = true

// maxWait caps one wait so the loop notices Close even if the stop message
// were lost.
const maxWait = 250 * time.Millisecond

// pending is a request received and not yet answered.
type pending struct {
	rid       []byte // routing id of libzmq's ZAP pipe
	requestID []byte
	address   string
	deadline  time.Time
}

// loop owns the ROUTER. It is the only goroutine that touches it, and the
// only one that decides when a request is answered: a worker's decision, a
// timeout, an overload or shutdown, whichever comes first; later ones are
// discarded.
type loop struct {
	s      *Server
	router *zmq4.Socket

	seq     uint64
	pending map[uint64]*pending
	// order holds pending sequence numbers in arrival order. Every request
	// gets the same timeout, so this is also deadline order.
	order []uint64
	head  int

	rcvtimeo        time.Duration // last value set on the ROUTER
	termErr         error         // ETERM seen while sending
	lastOverloadLog time.Time
	stopping        bool
	ready           *readiness // nil: block in libzmq with ZMQ_RCVTIMEO
}

func newLoop(s *Server, router *zmq4.Socket) *loop {
	l := &loop{s: s, router: router, pending: make(map[uint64]*pending), rcvtimeo: -1}
	if useNetpoller {
		ready, err := newReadiness(router)
		if err != nil {
			s.log.Debug("zap loop blocks in libzmq", slog.Any("reason", err))
		}
		l.ready = ready
	}
	return l
}

// receive returns the next message, or nil after d without one.
func (l *loop) receive(d time.Duration) ([][]byte, error) {
	flags := zmq4.Flag(0)
	if l.ready != nil {
		if err := l.ready.wait(d); err != nil {
			return nil, err
		}
		flags = zmq4.DONTWAIT
	} else if err := l.setTimeout(d); err != nil {
		return nil, err
	}
	msg, err := l.router.RecvMessageBytes(flags)
	if err != nil {
		if isAgain(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("zap: receive: %w", err)
	}
	return msg, nil
}

func (l *loop) run() {
	defer close(l.s.loopDone)
	defer l.s.markDone()
	defer close(l.s.jobs)

	for !l.stopping {
		msg, err := l.receive(l.wait(time.Now()))
		if err != nil {
			l.failed(err)
			return
		}
		if msg != nil {
			l.handle(msg)
		}
		if err := l.expire(time.Now()); err != nil {
			l.failed(err)
			return
		}
		select {
		case <-l.s.stop:
			l.stopping = true
		default:
		}
	}
	l.shutdown()
}

// setTimeout sets ZMQ_RCVTIMEO when it changes (a cheap setsockopt).
func (l *loop) setTimeout(d time.Duration) error {
	if d == l.rcvtimeo {
		return nil
	}
	if err := l.router.SetRcvtimeo(d); err != nil {
		return fmt.Errorf("zap: set rcvtimeo: %w", err)
	}
	l.rcvtimeo = d
	return nil
}

// wait returns the receive timeout: until the next deadline, at most
// maxWait, rounded up to whole milliseconds (libzmq's unit).
func (l *loop) wait(now time.Time) time.Duration {
	d := maxWait
	if p := l.oldest(); p != nil {
		d = min(d, p.deadline.Sub(now))
	}
	if d <= 0 {
		return 0
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// oldest returns the pending request with the earliest deadline, dropping
// already-answered entries from the front of the order.
func (l *loop) oldest() *pending {
	for l.head < len(l.order) {
		if p, ok := l.pending[l.order[l.head]]; ok {
			if l.head >= 1024 && 2*l.head >= len(l.order) {
				// Reclaim the consumed prefix under sustained load.
				n := copy(l.order, l.order[l.head:])
				l.order, l.head = l.order[:n], 0
			}
			return p
		}
		l.head++
	}
	l.order, l.head = l.order[:0], 0
	return nil
}

// handle dispatches one message from the ROUTER.
func (l *loop) handle(msg [][]byte) {
	if len(msg) >= 3 && bytes.Equal(msg[1], l.s.token) {
		l.handleInternal(msg[2:])
		return
	}
	l.handleRequest(msg)
}

// handleInternal processes a worker's decision or the stop message.
func (l *loop) handleInternal(msg [][]byte) {
	if len(msg) == 1 && len(msg[0]) == 1 && msg[0][0] == kindStop {
		l.stopping = true
		return
	}
	if len(msg) != 1+replyFrames || len(msg[0]) != 8 {
		l.s.log.Error("zap internal: bad decision message dropped", slog.Int("frames", len(msg)))
		return
	}
	seq := binary.BigEndian.Uint64(msg[0])
	p, ok := l.pending[seq]
	if !ok {
		l.s.stats.late.Add(1)
		return
	}
	delete(l.pending, seq)
	l.sendFrames(p.rid, msg[1:])
}

func (l *loop) handleRequest(msg [][]byte) {
	s := l.s
	s.stats.requests.Add(1)
	if len(msg) < 2 || len(msg[1]) != 0 {
		s.stats.malformed.Add(1)
		s.log.Warn("zap request without routing envelope dropped", slog.Int("frames", len(msg)))
		return
	}
	rid, body := msg[0], msg[2:]
	req, err := ParseRequest(body)
	if err != nil {
		s.stats.malformed.Add(1)
		s.log.Warn("malformed zap request", slog.Any("error", err))
		var id []byte
		if len(body) > reqID && len(body[reqID]) <= MaxFieldLen {
			id = body[reqID]
		}
		l.send(rid, Reply{Version: Version, RequestID: id, Status: StatusInternal, StatusText: textInternal})
		return
	}
	tmp := Reply{Version: Version, RequestID: req.RequestID, Status: StatusTempFail}
	if l.stopping {
		tmp.StatusText = textShutdown
		l.send(rid, tmp)
		return
	}
	l.seq++
	now := time.Now()
	deadline := now.Add(s.cfg.Timeout)
	select {
	case s.jobs <- job{seq: l.seq, req: req, received: now, deadline: deadline}:
		l.pending[l.seq] = &pending{rid: rid, requestID: req.RequestID, address: req.Address, deadline: deadline}
		l.order = append(l.order, l.seq)
		return
	default:
	}
	s.stats.overloads.Add(1)
	if now.Sub(l.lastOverloadLog) >= time.Second {
		l.lastOverloadLog = now
		s.log.Warn("zap queue full, answering 300", slog.Int("queue_size", s.cfg.QueueSize),
			slog.String("address", req.Address))
	}
	tmp.StatusText = textOverloaded
	l.send(rid, tmp)
}

// expire answers 300 to every pending request whose deadline has passed.
// It fails only if the context is being terminated.
func (l *loop) expire(now time.Time) error {
	for {
		p := l.oldest()
		if p == nil || p.deadline.After(now) {
			return l.termErr
		}
		delete(l.pending, l.order[l.head])
		l.head++
		l.s.stats.timeouts.Add(1)
		l.s.log.Warn("zap request timed out, answering 300",
			slog.Duration("timeout", l.s.cfg.Timeout), slog.String("address", p.address))
		l.answer(p, textTimeout)
	}
}

// shutdown answers every pending request 300 and closes the ROUTER.
func (l *loop) shutdown() {
	for seq, p := range l.pending {
		delete(l.pending, seq)
		l.answer(p, textShutdown)
	}
	l.closeRouter()
}

func (l *loop) answer(p *pending, text string) {
	l.send(p.rid, Reply{Version: Version, RequestID: p.requestID, Status: StatusTempFail, StatusText: text})
}

// failed handles an error of the ROUTER itself. On ETERM (the context is
// being terminated) every socket of the server must close so that
// zmq_ctx_term can return. On any other error the ROUTER stays bound but
// unanswered, so that handshakes stall instead of falling back to "no ZAP
// handler, accept everyone"; Close releases it.
func (l *loop) failed(err error) {
	l.s.fail(err)
	for !isTerm(err) {
		select {
		case <-l.s.stop:
			l.closeRouter()
			return
		case <-time.After(maxWait):
		}
		_, err = l.router.GetEvents() // notices a later zmq_ctx_term
	}
	l.s.closeDealers()
	l.closeRouter()
}

func (l *loop) closeRouter() {
	if l.ready != nil {
		if err := l.ready.close(); err != nil {
			l.s.log.Warn("zap close ZMQ_FD duplicate", slog.Any("error", err))
		}
	}
	if err := l.router.Close(); err != nil {
		l.s.log.Warn("zap close socket", slog.Any("error", err))
	}
}

// send encodes and sends one reply to rid.
func (l *loop) send(rid []byte, r Reply) {
	frames, err := r.Frames()
	if err != nil {
		l.s.log.Error("zap internal: reply not encoded", slog.Any("error", err))
		return
	}
	l.sendFrames(rid, frames)
}

// sendFrames counts the reply, then sends it without blocking; ROUTER drops
// it if the pipe is gone. Counting first keeps Stats consistent with what a
// peer has already seen. ETERM is remembered for the loop to act on.
func (l *loop) sendFrames(rid []byte, frames [][]byte) {
	st, _ := parseStatus(frames[repStatus])
	l.s.stats.replied(st)
	if _, err := l.router.SendMessageDontwait(rid, frames); err != nil {
		if isTerm(err) && l.termErr == nil {
			l.termErr = fmt.Errorf("zap: send reply: %w", err)
		}
		l.s.log.Warn("zap reply not sent", slog.Any("error", err))
	}
}

func isAgain(err error) bool {
	var eno zmq4.Errno
	return errors.As(err, &eno) && eno == zmq4.Errno(syscall.EAGAIN)
}

func isTerm(err error) bool {
	var eno zmq4.Errno
	return errors.As(err, &eno) && eno == zmq4.ETERM
}
