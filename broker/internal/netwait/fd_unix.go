//go:build unix

package netwait

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// fdWaiter parks in the netpoller on a duplicate of ZMQ_FD. ZMQ_FD is
// edge-triggered and only says that something may have changed, so the
// readiness check runs inside RawConn.Read after the poller is armed and
// no edge is lost between the check and the wait.
type fdWaiter struct {
	f  *os.File
	rc syscall.RawConn
}

func (w *fdWaiter) open(so *zmq.Socket) error {
	fd, err := so.GetFd()
	if err != nil {
		return fmt.Errorf("netwait: get ZMQ_FD: %w", err)
	}
	syscall.ForkLock.RLock()
	dup, err := syscall.Dup(fd)
	if err == nil {
		syscall.CloseOnExec(dup)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return fmt.Errorf("netwait: dup ZMQ_FD: %w", err)
	}
	if err := syscall.SetNonblock(dup, true); err != nil {
		syscall.Close(dup)
		return fmt.Errorf("netwait: ZMQ_FD non-blocking: %w", err)
	}
	w.f = os.NewFile(uintptr(dup), "zmq-fd")
	if err := w.f.SetReadDeadline(time.Time{}); err != nil {
		w.f.Close()
		return fmt.Errorf("netwait: ZMQ_FD is not pollable: %w", err)
	}
	if w.rc, err = w.f.SyscallConn(); err != nil {
		w.f.Close()
		return fmt.Errorf("netwait: ZMQ_FD raw conn: %w", err)
	}
	return nil
}

func (w *fdWaiter) setDeadline(t time.Time) error {
	if err := w.f.SetReadDeadline(t); err != nil {
		return fmt.Errorf("netwait: set deadline: %w", err)
	}
	return nil
}

func (w *fdWaiter) wait(ready func() (bool, error)) error {
	var evErr error
	err := w.rc.Read(func(uintptr) bool {
		ok, err := ready()
		evErr = err
		return ok
	})
	if evErr != nil {
		return fmt.Errorf("netwait: get ZMQ_EVENTS: %w", evErr)
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("netwait: wait for ZMQ_FD: %w", err)
	}
	return nil
}

// interrupt ends a wait by moving the deadline into the past.
func (w *fdWaiter) interrupt() { _ = w.f.SetReadDeadline(time.Unix(1, 0)) }

func (w *fdWaiter) close() error { return w.f.Close() }
