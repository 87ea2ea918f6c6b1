//go:build !linux

package syslog

import (
	"errors"
	"net"
)

// unackedBytes is not available on this platform; the forwarder then
// relies on the settle period alone.
func unackedBytes(*net.TCPConn) (int, error) {
	return 0, errors.New("unacknowledged byte count not supported")
}
