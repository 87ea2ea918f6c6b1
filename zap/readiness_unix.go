//go:build unix

package zap

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/pebbe/zmq4"
)

// readiness waits until a socket has a message to read by parking the
// goroutine in Go's netpoller on the socket's ZMQ_FD, instead of blocking
// an OS thread inside libzmq. This keeps the loop off the cgo blocking path
// (no P hand-off, no sysmon retake): a fast Authenticator's decision is
// usually picked up on the same thread that ran the worker.
//
// ZMQ_FD is edge-triggered and only says "something may have changed";
// ZMQ_EVENTS tells whether a message is there. The check runs inside
// RawConn.Read after the poller was armed, so no edge is lost between the
// check and the wait.
type readiness struct {
	so *zmq4.Socket
	f  *os.File // a close-on-exec duplicate of ZMQ_FD; libzmq keeps its own
	rc syscall.RawConn
}

// newReadiness returns nil and an error when the descriptor cannot be
// polled by Go; the caller then falls back to blocking receives.
func newReadiness(so *zmq4.Socket) (*readiness, error) {
	fd, err := so.GetFd()
	if err != nil {
		return nil, fmt.Errorf("zap: get ZMQ_FD: %w", err)
	}
	syscall.ForkLock.RLock()
	dup, err := syscall.Dup(fd)
	if err == nil {
		syscall.CloseOnExec(dup)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("zap: dup ZMQ_FD: %w", err)
	}
	f := os.NewFile(uintptr(dup), "zmq-fd")
	r := &readiness{so: so, f: f}
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("zap: ZMQ_FD is not pollable: %w", err)
	}
	if r.rc, err = f.SyscallConn(); err != nil {
		f.Close()
		return nil, fmt.Errorf("zap: ZMQ_FD raw conn: %w", err)
	}
	return r, nil
}

// wait returns when the socket has a message, when d has passed, or with
// the socket's error (ETERM when the context is terminated).
func (r *readiness) wait(d time.Duration) error {
	if err := r.f.SetReadDeadline(time.Now().Add(d)); err != nil {
		return fmt.Errorf("zap: set deadline: %w", err)
	}
	var evErr error
	err := r.rc.Read(func(uintptr) bool {
		ev, err := r.so.GetEvents()
		if err != nil {
			evErr = err
			return true
		}
		return ev&zmq4.POLLIN != 0
	})
	if evErr != nil {
		return fmt.Errorf("zap: get ZMQ_EVENTS: %w", evErr)
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("zap: wait for ZMQ_FD: %w", err)
	}
	return nil
}

// close releases the duplicate descriptor (not the socket).
func (r *readiness) close() error { return r.f.Close() }
