//go:build unix

package broker

import (
	"net"
	"strconv"
	"syscall"
)

// peerAddress returns "ip:port" of the TCP peer on fd, or "unknown".
func peerAddress(fd int) string {
	sa, err := syscall.Getpeername(fd)
	if err != nil {
		return "unknown"
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *syscall.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *syscall.SockaddrUnix:
		return "unix:" + a.Name
	}
	return "unknown"
}
