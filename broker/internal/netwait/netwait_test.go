package netwait

import (
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
)

func pair(t *testing.T) (*zmq.Socket, *zmq.Socket, *Waiter) {
	t.Helper()
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := zctx.NewSocket(zmq.PAIR)
	out, _ := zctx.NewSocket(zmq.PAIR)
	for _, s := range []*zmq.Socket{in, out} {
		s.SetLinger(0)
	}
	if err := in.Bind("inproc://netwait-test"); err != nil {
		t.Fatal(err)
	}
	if err := out.Connect("inproc://netwait-test"); err != nil {
		t.Fatal(err)
	}
	w, err := New(in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); in.Close(); out.Close(); zctx.Term() })
	return in, out, w
}

func elapsed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func TestWaiter(t *testing.T) {
	in, out, w := pair(t)
	if d := elapsed(func() { w.Wait(time.Now().Add(50 * time.Millisecond)) }); d < 40*time.Millisecond {
		t.Fatalf("idle wait returned after %s", d)
	}
	// A message makes Wait return at once, and it stays readable.
	out.Send("x", 0)
	if d := elapsed(func() { w.Wait(time.Now().Add(5 * time.Second)) }); d > time.Second {
		t.Fatalf("readable wait took %s", d)
	}
	if msg, err := in.Recv(zmq.DONTWAIT); err != nil || msg != "x" {
		t.Fatalf("recv %q %v", msg, err)
	}
	// A Wake before Wait is not lost.
	w.Wake()
	if d := elapsed(func() { w.Wait(time.Now().Add(5 * time.Second)) }); d > time.Second {
		t.Fatalf("wait after wake took %s", d)
	}
	// A Wake during Wait interrupts it.
	go func() { time.Sleep(50 * time.Millisecond); w.Wake() }()
	if d := elapsed(func() { w.Wait(time.Now().Add(5 * time.Second)) }); d > time.Second {
		t.Fatalf("woken wait took %s", d)
	}
	// A message sent during Wait interrupts it.
	go func() { time.Sleep(50 * time.Millisecond); out.Send("y", 0) }()
	if d := elapsed(func() { w.Wait(time.Now().Add(5 * time.Second)) }); d > time.Second {
		t.Fatalf("wait for a message took %s", d)
	}
}
