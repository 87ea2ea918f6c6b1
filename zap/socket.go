package zap

import (
	"errors"
	"sync"

	"github.com/pebbe/zmq4"
)

var errSocketClosed = errors.New("zap: internal socket closed")

// lockedSocket is a socket used by one goroutine and closed, possibly by
// another (Close, or the loop when the context terminates), without racing
// with a send in progress. The mutex also gives libzmq the full memory
// barrier it requires when a socket changes threads.
type lockedSocket struct {
	mu sync.Mutex
	so *zmq4.Socket // nil once closed
}

// send sends a multipart message without blocking.
func (l *lockedSocket) send(parts ...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.so == nil {
		return errSocketClosed
	}
	_, err := l.so.SendMessageDontwait(parts...)
	return err
}

// close closes the socket once; later calls do nothing.
func (l *lockedSocket) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.so == nil {
		return nil
	}
	err := l.so.Close()
	l.so = nil
	return err
}
