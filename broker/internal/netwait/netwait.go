// Package netwait parks a goroutine until a ZeroMQ socket has a message,
// a deadline passes or another goroutine wakes it, without blocking an OS
// thread inside libzmq.
//
// A goroutine blocked in a cgo call (zmq_poll, a blocking zmq_recv) holds
// its P until the runtime's sysmon takes it back, which can take
// milliseconds; with few CPUs that delays every other goroutine, such as
// the ones that authorize messages. Waiting in Go's netpoller on the
// socket's ZMQ_FD keeps the P free, and lets Wake interrupt the wait from
// any goroutine by moving the read deadline into the past. zap.Server's
// loop uses the same technique.
package netwait

import (
	"sync"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// Waiter waits on one socket. Wait must be called from the goroutine that
// owns the socket; Wake from any goroutine.
type Waiter struct {
	so *zmq.Socket
	fd fdWaiter

	mu       sync.Mutex
	sleeping bool // Wait is (about to be) parked
	woken    bool // Wake came while Wait was not parked
}

// New returns a Waiter for so. It does not own so; Close releases only
// the Waiter's duplicate of ZMQ_FD.
func New(so *zmq.Socket) (*Waiter, error) {
	w := &Waiter{so: so}
	if err := w.fd.open(so); err != nil {
		return nil, err
	}
	return w, nil
}

// Wait returns when the socket has a message to read, when deadline
// passes, or when Wake is called (also if Wake was called since the last
// Wait returned). It returns the socket's error, such as ETERM.
func (w *Waiter) Wait(deadline time.Time) error {
	if err := w.fd.setDeadline(deadline); err != nil {
		return err
	}
	w.mu.Lock()
	if w.woken {
		w.woken = false
		w.mu.Unlock()
		return nil
	}
	w.sleeping = true
	w.mu.Unlock()
	err := w.fd.wait(w.readable)
	w.mu.Lock()
	w.sleeping, w.woken = false, false
	w.mu.Unlock()
	return err
}

// readable reports whether a message can be read now.
func (w *Waiter) readable() (bool, error) {
	ev, err := w.so.GetEvents()
	if err != nil {
		return true, err
	}
	return ev&zmq.POLLIN != 0, nil
}

// Wake makes the current or the next Wait return.
func (w *Waiter) Wake() {
	w.mu.Lock()
	if !w.sleeping {
		w.woken = true
		w.mu.Unlock()
		return
	}
	w.sleeping = false
	w.mu.Unlock()
	w.fd.interrupt()
}

// Close releases the Waiter's descriptor; the socket stays open.
func (w *Waiter) Close() error { return w.fd.close() }
