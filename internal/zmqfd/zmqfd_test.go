package zmqfd

import (
	"errors"
	"net"
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"

	zmq "github.com/pebbe/zmq4"
)

func newSocket(t *testing.T, zctx *zmq.Context, typ zmq.Type) *zmq.Socket {
	t.Helper()
	s, err := zctx.NewSocket(typ)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetLinger(0)
	t.Cleanup(func() { s.Close() })
	return s
}

func newContext(t *testing.T) *zmq.Context {
	t.Helper()
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zctx.Term() })
	return zctx
}

// TestRecvReportsSourceFD pins what the broker relies on: each body frame
// of a message a ROUTER receives over TCP carries the fd of the accepted
// connection (its local port is the ROUTER's, its peer the DEALER), the
// routing id none, and the metadata asked for is read.
func TestRecvReportsSourceFD(t *testing.T) {
	zctx := newContext(t)
	router := newSocket(t, zctx, zmq.ROUTER)
	if err := router.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	ep, _ := router.GetLastEndpoint()
	_, port, _ := net.SplitHostPort(ep[len("tcp://"):])
	r, err := New(router, "Peer-Address", "Socket-Type", "X-Absent")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	dealer := newSocket(t, zctx, zmq.DEALER)
	if err := dealer.Connect(ep); err != nil {
		t.Fatal(err)
	}
	if _, err := dealer.SendMessage("a", "bb", "ccc"); err != nil {
		t.Fatal(err)
	}
	router.SetRcvtimeo(5 * time.Second)
	id, err := r.Recv(0)
	if err != nil {
		t.Fatal(err)
	}
	if !id.More || len(id.Data) == 0 {
		t.Fatalf("routing id frame %+v", id)
	}
	first, err := r.RecvMeta(0)
	if err != nil {
		t.Fatal(err)
	}
	if string(first.Data) != "a" || !first.More {
		t.Fatalf("first frame %+v", first)
	}
	if first.Props[0] != "127.0.0.1" || first.Props[1] != "DEALER" || first.Props[2] != "" {
		t.Errorf("props %q", first.Props)
	}
	if first.FD < 0 {
		t.Fatalf("no source fd on a TCP frame: %d", first.FD)
	}
	local, err := syscall.Getsockname(first.FD)
	if err != nil {
		t.Fatalf("getsockname(%d): %v", first.FD, err)
	}
	if a, ok := local.(*syscall.SockaddrInet4); !ok || strconv.Itoa(a.Port) != port {
		t.Errorf("fd %d is not a connection accepted on port %s: %#v", first.FD, port, local)
	}
	for _, want := range []string{"bb", "ccc"} {
		f, err := r.Recv(0)
		if err != nil {
			t.Fatal(err)
		}
		if string(f.Data) != want || f.FD != first.FD || f.Props != nil {
			t.Errorf("frame %+v, want %q from fd %d", f, want, first.FD)
		}
		if f.More != (want != "ccc") {
			t.Errorf("frame %q more %v", want, f.More)
		}
	}
	if _, err := r.Recv(zmq.DONTWAIT); zmq.AsErrno(err) != zmq.Errno(syscall.EAGAIN) {
		t.Errorf("empty socket: %v, want EAGAIN", err)
	}
}

// TestNewRefusesAPointerItCannotVerify: the checks New runs before it
// uses the pointer it takes out of a zmq4.Socket refuse another layout
// and a pointer that is not the socket's, so a zmq4 upgrade that moves
// the field fails at start-up instead of corrupting memory.
func TestNewRefusesAPointerItCannotVerify(t *testing.T) {
	zctx := newContext(t)
	router := newSocket(t, zctx, zmq.ROUTER)
	other := newSocket(t, zctx, zmq.ROUTER)
	if _, err := rawSocket(router); err != nil {
		t.Fatalf("the real layout: %v", err)
	}
	type moved struct {
		ctx    *zmq.Context
		soc    unsafe.Pointer
		opened bool
	}
	type renamed struct {
		handle unsafe.Pointer
	}
	type retyped struct {
		soc uintptr
	}
	_, _, _ = moved{}.ctx, moved{}.soc, moved{}.opened // inspected through reflect only
	_, _ = renamed{}.handle, retyped{}.soc
	for _, typ := range []reflect.Type{reflect.TypeFor[moved](), reflect.TypeFor[renamed](), reflect.TypeFor[retyped](), reflect.TypeFor[int]()} {
		if err := checkLayout(typ); !errors.Is(err, ErrLayout) {
			t.Errorf("layout %s: %v, want ErrLayout", typ, err)
		}
	}
	// The pointer of another live socket of the same type is caught.
	otherRaw, err := rawSocket(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(otherRaw, router); !errors.Is(err, ErrLayout) {
		t.Errorf("pointer to another socket: %v, want ErrLayout", err)
	}
	if err := verify(nil, router); !errors.Is(err, ErrLayout) {
		t.Errorf("nil pointer: %v, want ErrLayout", err)
	}
	// A socket with an identity does not print its pointer: refused.
	dealer := newSocket(t, zctx, zmq.DEALER)
	dealer.SetIdentity("named")
	if _, err := New(dealer); !errors.Is(err, ErrLayout) {
		t.Errorf("socket with identity: %v, want ErrLayout", err)
	}
	closed := newSocket(t, zctx, zmq.ROUTER)
	closed.Close()
	if _, err := New(closed); !errors.Is(err, ErrLayout) {
		t.Errorf("closed socket: %v, want ErrLayout", err)
	}
}
