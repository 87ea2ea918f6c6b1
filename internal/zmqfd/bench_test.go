package zmqfd

import (
	"testing"

	zmq "github.com/pebbe/zmq4"
)

// benchPair is a ROUTER with a DEALER over TCP on 127.0.0.1 that keeps it
// fed with 4-frame messages (the size of an MDP request) from a
// goroutine.
func benchPair(b *testing.B) (*zmq.Socket, func()) {
	zctx, err := zmq.NewContext()
	if err != nil {
		b.Fatal(err)
	}
	router, _ := zctx.NewSocket(zmq.ROUTER)
	dealer, _ := zctx.NewSocket(zmq.DEALER)
	router.SetLinger(0)
	dealer.SetLinger(0)
	router.SetRcvhwm(0)
	dealer.SetSndhwm(0)
	if err := router.Bind("tcp://127.0.0.1:*"); err != nil {
		b.Fatal(err)
	}
	ep, _ := router.GetLastEndpoint()
	dealer.Connect(ep)
	for range b.N {
		if _, err := dealer.SendMessage("", "MDPC01", "proxy", "task.status"); err != nil {
			b.Fatal(err)
		}
	}
	return router, func() { router.Close(); dealer.Close(); zctx.Term() }
}

// BenchmarkRecvMessage compares reading one 4-frame message after its
// routing id the way the broker did with zmq4 (metadata on the first
// frame, then GetRcvmore per frame) and the way it does with Receiver
// (metadata and source fd on the first frame, the more flag with each
// frame). Component benchmark: receive path only.
func BenchmarkRecvMessage(b *testing.B) {
	props := []string{"User-Id", "X-Zapgate-Key", "Peer-Address"}
	b.Run("zmq4", func(b *testing.B) {
		router, done := benchPair(b)
		defer done()
		b.ResetTimer()
		for range b.N {
			router.RecvBytes(0)
			router.GetRcvmore()
			if _, _, err := router.RecvBytesWithMetadata(0, props...); err != nil {
				b.Fatal(err)
			}
			for {
				more, _ := router.GetRcvmore()
				if !more {
					break
				}
				router.RecvBytes(0)
			}
		}
	})
	b.Run("zmqfd", func(b *testing.B) {
		router, done := benchPair(b)
		defer done()
		r, err := New(router, props...)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		b.ResetTimer()
		for range b.N {
			router.RecvBytes(0)
			router.GetRcvmore()
			f, err := r.RecvMeta(0)
			if err != nil {
				b.Fatal(err)
			}
			for f.More {
				f, _ = r.Recv(0)
			}
		}
	})
}
