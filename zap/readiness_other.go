//go:build !unix

package zap

import (
	"errors"
	"time"

	"github.com/pebbe/zmq4"
)

// readiness is only implemented on unix; elsewhere the loop blocks in
// libzmq with ZMQ_RCVTIMEO.
type readiness struct{}

func newReadiness(*zmq4.Socket) (*readiness, error) {
	return nil, errors.New("zap: netpoller wait not supported on this platform")
}

func (*readiness) wait(time.Duration) error { return nil }

func (*readiness) close() error { return nil }
