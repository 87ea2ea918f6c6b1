//go:build linux

package syslog

import (
	"net"
	"syscall"
	"unsafe"
)

// unackedBytes returns the bytes in the socket's send queue that the peer
// has not acknowledged yet (SIOCOUTQ).
func unackedBytes(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int32
	var ierr error
	err = rc.Control(func(fd uintptr) {
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
		if e != 0 {
			ierr = e
		}
	})
	if err != nil {
		return 0, err
	}
	return int(n), ierr
}
