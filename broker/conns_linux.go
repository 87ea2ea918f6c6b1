//go:build linux

package broker

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"golang.org/x/sys/unix"
)

// connOps reads Linux's per-connection TCP counters and shuts sockets
// down.
type connOps struct{}

func newConnOps() fdOps { return connOps{} }

// identify accepts only a connected TCP socket that is not listening.
func (connOps) identify(fd int) (connID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return connID{}, fmt.Errorf("fstat: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return connID{}, errors.New("not a socket")
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || v != unix.IPPROTO_TCP {
		return connID{}, fmt.Errorf("not a TCP socket (%d): %w", v, err)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 0 {
		return connID{}, fmt.Errorf("a listening socket: %w", err)
	}
	local, err := unix.Getsockname(fd)
	if err != nil {
		return connID{}, fmt.Errorf("getsockname: %w", err)
	}
	peer, err := unix.Getpeername(fd)
	if err != nil {
		return connID{}, fmt.Errorf("getpeername: %w", err)
	}
	return connID{ino: st.Ino, local: sockaddrString(local), peer: sockaddrString(peer)}, nil
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	}
	return "unknown"
}

// read is tcpi_bytes_received (bytes the kernel received in sequence)
// less SIOCINQ (bytes still queued for libzmq to read).
func (connOps) read(fd int) (uint64, error) {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, fmt.Errorf("tcp_info: %w", err)
	}
	queued, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil {
		return 0, fmt.Errorf("siocinq: %w", err)
	}
	if uint64(queued) > info.Bytes_received {
		return 0, nil
	}
	return info.Bytes_received - uint64(queued), nil
}

// cut duplicates fd first, so the socket checked is the socket shut
// down: if libzmq closes fd and the number is reused between the check
// and the shutdown, the duplicate still names the checked socket (and
// shutting down a socket libzmq has already closed harms nothing).
func (o connOps) cut(fd int, id connID) error {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("dup: %w", err)
	}
	defer unix.Close(dup)
	got, err := o.identify(dup)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotThisConn, err)
	}
	if got != id {
		return fmt.Errorf("%w: now %s → %s", errNotThisConn, got.local, got.peer)
	}
	if err := unix.Shutdown(dup, unix.SHUT_RDWR); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
