//go:build linux

package broker

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/internal/zmqfd"
)

// tcpPair returns an accepted server-side connection's fd (a duplicate
// the test owns) and the client end.
func tcpPair(t *testing.T, ln net.Listener) (int, net.Conn) {
	t.Helper()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	sv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := sv.(*net.TCPConn).File() // a blocking duplicate
	sv.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd()), cl
}

// TestConnOpsOnRealSockets: identify refuses a listening socket and
// other files; read counts what the kernel handed to the reader; cut
// shuts down only the socket identified, so an fd number reused by
// another socket is left alone.
func TestConnOpsOnRealSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ops := connOps{}
	lf, _ := ln.(*net.TCPListener).File()
	defer lf.Close()
	if _, err := ops.identify(int(lf.Fd())); err == nil {
		t.Error("identified the listening socket as a connection")
	}
	if _, err := ops.identify(0); err == nil {
		t.Error("identified stdin as a connection")
	}

	fd, cl := tcpPair(t, ln)
	id, err := ops.identify(fd)
	if err != nil {
		t.Fatal(err)
	}
	if id.local != ln.Addr().String() || id.peer != cl.LocalAddr().String() || id.ino == 0 {
		t.Fatalf("id %+v", id)
	}
	before, err := ops.read(fd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Write(make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n, _ := ops.read(fd); n != before {
		t.Errorf("read %d with 5000 bytes still queued, want %d", n, before)
	}
	buf := make([]byte, 3000)
	if _, err := io.ReadFull(fdReader(fd), buf); err != nil {
		t.Fatal(err)
	}
	if n, _ := ops.read(fd); n != before+3000 {
		t.Errorf("read %d after reading 3000, want %d", n, before+3000)
	}

	// Another connection: same port, another peer and inode.
	fd2, cl2 := tcpPair(t, ln)
	id2, _ := ops.identify(fd2)
	if err := ops.cut(fd2, id); !errors.Is(err, errNotThisConn) {
		t.Fatalf("cut of fd %d with another connection's identity: %v", fd2, err)
	}
	cl2.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := cl2.Read(buf); !errors.Is(err, syscall.EAGAIN) && !isTimeout(err) {
		t.Fatalf("the wrongly named connection was touched: %v", err)
	}
	if err := ops.cut(fd2, id2); err != nil {
		t.Fatal(err)
	}
	cl2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := cl2.Read(buf); err != io.EOF {
		t.Errorf("after the cut the node reads %v, want EOF", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

type fdReader int

func (r fdReader) Read(p []byte) (int, error) { return syscall.Read(int(r), p) }

// BenchmarkConnRead is the accounting's cost per connection and check:
// TCP_INFO and SIOCINQ on one socket (component benchmark).
func BenchmarkConnRead(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	sv, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer sv.Close()
	raw, _ := sv.(*net.TCPConn).SyscallConn()
	ops := connOps{}
	b.ResetTimer()
	raw.Control(func(fd uintptr) {
		for range b.N {
			if _, err := ops.read(int(fd)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCutWhileLibzmqWrites: libzmq writes with plain send(2); after a cut
// its writes fail with EPIPE, and the SIGPIPE that raises lands on an I/O
// thread that blocks signals. The process must survive, and the ROUTER
// keep working for other peers.
func TestCutWhileLibzmqWrites(t *testing.T) {
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	router, _ := zctx.NewSocket(zmq.ROUTER)
	defer router.Close()
	router.SetLinger(0)
	router.SetRcvtimeo(5 * time.Second)
	if err := router.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	ep, _ := router.GetLastEndpoint()
	recv, err := zmqfd.New(router)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	dealer := func() *zmq.Socket {
		d, _ := zctx.NewSocket(zmq.DEALER)
		d.SetLinger(0)
		d.SetRcvtimeo(5 * time.Second)
		d.Connect(ep)
		d.SendMessage("hello")
		return d
	}
	victim, other := dealer(), dealer()
	defer victim.Close()
	defer other.Close()
	fds := map[string]int{}
	for range 2 {
		id, err := recv.Recv(0)
		if err != nil {
			t.Fatal(err)
		}
		body, err := recv.Recv(0)
		if err != nil {
			t.Fatal(err)
		}
		fds[string(id.Data)] = body.FD
	}
	var victimID string
	for id := range fds {
		victimID = id
		break
	}
	ops := connOps{}
	cid, err := ops.identify(fds[victimID])
	if err != nil {
		t.Fatal(err)
	}
	if err := ops.cut(fds[victimID], cid); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 64<<10)
	for range 200 { // keep libzmq writing to the cut connection
		router.SendBytes([]byte(victimID), zmq.SNDMORE|zmq.DONTWAIT)
		router.SendBytes(payload, zmq.DONTWAIT)
	}
	time.Sleep(200 * time.Millisecond)
	for id := range fds {
		if id == victimID {
			continue
		}
		if _, err := router.SendMessage(id, "still here"); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for _, d := range []*zmq.Socket{victim, other} {
		d.SetRcvtimeo(time.Second)
		if m, err := d.RecvMessage(0); err == nil && len(m) == 1 && m[0] == "still here" {
			got++
		}
	}
	if got != 1 {
		t.Errorf("the other peer got %d replies after the cut, want 1", got)
	}
}
