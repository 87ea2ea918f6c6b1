// Package zmqfd receives ZeroMQ frames together with the file descriptor
// of the connection each one arrived on (libzmq's ZMQ_SRCFD message
// property) and the connection metadata asked for, which
// github.com/pebbe/zmq4 does not expose.
//
// It calls libzmq directly on the socket a *zmq4.Socket wraps. That
// pointer is zmq4's unexported first field; New checks the layout and the
// pointer against what zmq4 itself reports, and fails instead of
// guessing, so a zmq4 version that changes the layout stops the broker at
// start-up rather than corrupting memory.
package zmqfd

/*
#cgo !windows pkg-config: libzmq
#include <zmq.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

// zmqfd_recv receives one frame into m (initialised here) and reports its
// size, the more flag and the source fd; on failure it returns -1 with
// errno in *err and leaves m closed.
static int zmqfd_recv(void *sock, zmq_msg_t *m, int flags, int *more, int *fd, int *err) {
	zmq_msg_init(m);
	int n = zmq_msg_recv(m, sock, flags);
	if (n < 0) {
		*err = zmq_errno();
		zmq_msg_close(m);
		return -1;
	}
	*more = zmq_msg_more(m);
	*fd = zmq_msg_get(m, ZMQ_SRCFD);
	return n;
}

// zmqfd_take copies m's data to dst, looks up n properties into vals
// (NULL when absent) and closes m.
static void zmqfd_take(zmq_msg_t *m, void *dst, size_t size, char **names, const char **vals, int n) {
	if (size > 0) {
		memcpy(dst, zmq_msg_data(m), size);
	}
	for (int i = 0; i < n; i++) {
		vals[i] = zmq_msg_gets(m, names[i]);
	}
}

static void zmqfd_close(zmq_msg_t *m) { zmq_msg_close(m); }

static int zmqfd_getsockopt_int(void *sock, int opt, int *v) {
	size_t len = sizeof(*v);
	return zmq_getsockopt(sock, opt, v, &len);
}

static int zmqfd_getsockopt_fd(void *sock, int opt, long long *v) {
	#ifdef _WIN32
	SOCKET s;
	#else
	int s;
	#endif
	size_t len = sizeof(s);
	int rc = zmq_getsockopt(sock, opt, &s, &len);
	*v = (long long)s;
	return rc;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"unsafe"

	zmq "github.com/pebbe/zmq4"
)

// Frame is one received frame.
type Frame struct {
	// Data is the frame's bytes, copied out of libzmq.
	Data []byte
	// More is true when another frame of the same message follows.
	More bool
	// FD is the file descriptor of the connection the frame came from
	// (ZMQ_SRCFD), or -1 when libzmq knows none (a frame the socket made
	// itself, such as a ROUTER's routing id, or an inproc peer). The
	// number may already be closed, or reused by another connection, by
	// the time the caller looks at it.
	FD int
	// Props are the values of the properties the Receiver was built with,
	// in the same order, when read with RecvMeta; "" when absent.
	Props []string
}

// Receiver receives frames from one socket. It is not safe for
// concurrent use: like the socket, it belongs to one goroutine.
type Receiver struct {
	zs    *zmq.Socket
	raw   unsafe.Pointer
	msg   *C.zmq_msg_t
	names **C.char // C array of len(props) property names
	vals  **C.char // C array of len(props) results
	props []string
	out   []string
}

// ErrLayout reports that the zmq4 Socket does not have the layout this
// package was written for (github.com/pebbe/zmq4 v1.4.0: first field soc
// unsafe.Pointer, the libzmq socket).
var ErrLayout = errors.New("zmqfd: unexpected zmq4.Socket layout")

// New returns a Receiver for s that reads props (e.g. "User-Id") with
// RecvMeta. It fails with ErrLayout unless the pointer it takes from s is
// verifiably the libzmq socket s wraps. Close frees it; s stays open and
// is still the caller's to close (after the Receiver).
func New(s *zmq.Socket, props ...string) (*Receiver, error) {
	raw, err := rawSocket(s)
	if err != nil {
		return nil, err
	}
	r := &Receiver{zs: s, raw: raw, props: append([]string(nil), props...), out: make([]string, len(props))}
	r.msg = (*C.zmq_msg_t)(C.malloc(C.size_t(unsafe.Sizeof(C.zmq_msg_t{}))))
	n := max(len(props), 1)
	ptr := C.size_t(unsafe.Sizeof((*C.char)(nil)))
	r.names = (**C.char)(C.calloc(C.size_t(n), ptr))
	r.vals = (**C.char)(C.calloc(C.size_t(n), ptr))
	names := unsafe.Slice(r.names, n)
	for i, p := range props {
		names[i] = C.CString(p)
	}
	return r, nil
}

// Close frees the Receiver's C memory; it does not close the socket.
func (r *Receiver) Close() {
	if r.msg == nil {
		return
	}
	for _, p := range unsafe.Slice(r.names, max(len(r.props), 1))[:len(r.props)] {
		C.free(unsafe.Pointer(p))
	}
	C.free(unsafe.Pointer(r.names))
	C.free(unsafe.Pointer(r.vals))
	C.free(unsafe.Pointer(r.msg))
	r.msg, r.names, r.vals = nil, nil, nil
}

// Recv receives one frame (zmq_msg_recv with flags, e.g. zmq.DONTWAIT).
// An error is a zmq.Errno: test zmq.AsErrno(err) for EAGAIN.
func (r *Receiver) Recv(flags zmq.Flag) (Frame, error) {
	return r.recv(flags, false)
}

// RecvMeta is Recv that also reads the Receiver's properties into
// Frame.Props (valid until the next RecvMeta).
func (r *Receiver) RecvMeta(flags zmq.Flag) (Frame, error) {
	return r.recv(flags, true)
}

func (r *Receiver) recv(flags zmq.Flag, meta bool) (Frame, error) {
	if r.msg == nil {
		return Frame{FD: -1}, errors.New("zmqfd: receiver closed")
	}
	var more, fd, errno C.int
	var n C.int
	for {
		n = C.zmqfd_recv(r.raw, r.msg, C.int(flags), &more, &fd, &errno)
		if n >= 0 || syscall.Errno(errno) != syscall.EINTR {
			break
		}
	}
	if n < 0 {
		return Frame{FD: -1}, zmq.Errno(errno)
	}
	f := Frame{Data: make([]byte, int(n)), More: more != 0, FD: int(fd)}
	var dst unsafe.Pointer
	if n > 0 {
		dst = unsafe.Pointer(&f.Data[0])
	}
	np := 0
	if meta {
		np = len(r.props)
	}
	C.zmqfd_take(r.msg, dst, C.size_t(n), r.names, r.vals, C.int(np))
	C.zmqfd_close(r.msg)
	if meta {
		for i, v := range unsafe.Slice(r.vals, max(np, 1))[:np] {
			r.out[i] = ""
			if v != nil {
				r.out[i] = C.GoString(v)
			}
		}
		f.Props = r.out
	}
	return f, nil
}

// rawSocket returns the libzmq socket s wraps: zmq4's first field, once
// checkLayout and verify accept it.
func rawSocket(s *zmq.Socket) (unsafe.Pointer, error) {
	if s == nil {
		return nil, errors.New("zmqfd: nil socket")
	}
	if err := checkLayout(reflect.TypeFor[zmq.Socket]()); err != nil {
		return nil, err
	}
	raw := *(*unsafe.Pointer)(unsafe.Pointer(s))
	if err := verify(raw, s); err != nil {
		return nil, err
	}
	return raw, nil
}

// checkLayout accepts a struct type whose first field is soc, an
// unsafe.Pointer at offset 0 (zmq4 v1.4.0's Socket).
func checkLayout(t reflect.Type) error {
	if t.Kind() != reflect.Struct || t.NumField() == 0 {
		return fmt.Errorf("%w: %s is not a struct with fields", ErrLayout, t)
	}
	if f := t.Field(0); f.Name != "soc" || f.Offset != 0 || f.Type != reflect.TypeFor[unsafe.Pointer]() {
		return fmt.Errorf("%w: first field %s %s at offset %d", ErrLayout, f.Name, f.Type, f.Offset)
	}
	return nil
}

// verify checks that raw is the libzmq socket s wraps: s.String prints
// it (zmq4 prints the pointer of a socket without an identity), and
// libzmq reports through raw the type and the notification fd (unique to
// a socket) that zmq4 reports through s. The String check comes first:
// it does not dereference raw.
func verify(raw unsafe.Pointer, s *zmq.Socket) error {
	if raw == nil {
		return fmt.Errorf("%w: nil libzmq socket (closed?)", ErrLayout)
	}
	str := s.String()
	if want := fmt.Sprintf(",%p)", raw); !strings.HasSuffix(str, want) {
		return fmt.Errorf("%w: %s does not print the pointer %p (a socket with an identity is not supported)", ErrLayout, str, raw)
	}
	typ, err := s.GetType()
	if err != nil {
		return fmt.Errorf("zmqfd: socket type: %w", err)
	}
	var rawType C.int
	if C.zmqfd_getsockopt_int(raw, C.ZMQ_TYPE, &rawType) != 0 || zmq.Type(rawType) != typ {
		return fmt.Errorf("%w: libzmq reports type %d through the pointer, zmq4 %v", ErrLayout, rawType, typ)
	}
	fd, err := s.GetFd()
	if err != nil {
		return fmt.Errorf("zmqfd: socket fd: %w", err)
	}
	var rawFD C.longlong
	if C.zmqfd_getsockopt_fd(raw, C.ZMQ_FD, &rawFD) != 0 || uint64(rawFD) != uint64(fd) {
		return fmt.Errorf("%w: libzmq reports fd %d through the pointer, zmq4 %d", ErrLayout, rawFD, fd)
	}
	return nil
}
