//go:build !unix

package netwait

import (
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// fdWaiter polls the socket in short slices where ZMQ_FD cannot be handed
// to Go's netpoller.
type fdWaiter struct {
	deadline time.Time
	stop     atomic.Bool
}

const slice = 2 * time.Millisecond

func (w *fdWaiter) open(*zmq.Socket) error { return nil }

func (w *fdWaiter) setDeadline(t time.Time) error {
	w.deadline = t
	w.stop.Store(false)
	return nil
}

func (w *fdWaiter) wait(ready func() (bool, error)) error {
	for !w.stop.Load() && time.Now().Before(w.deadline) {
		if ok, err := ready(); ok || err != nil {
			return err
		}
		time.Sleep(slice)
	}
	return nil
}

func (w *fdWaiter) interrupt() { w.stop.Store(true) }

func (w *fdWaiter) close() error { return nil }
