package zap

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pebbe/zmq4"
)

// Handshake benchmarks: each operation is one complete CURVE handshake over
// tcp://127.0.0.1 (connect, send one message, receive its echo, close),
// with benchClients clients at a time. "bare" answers ZAP with a plain
// single-goroutine loop that accepts everyone; "server" uses Server with an
// in-memory map Authenticator.
//
//	go test -run '^$' -bench 'BenchmarkHandshake' -benchtime 3000x ./zap/
//
// BenchmarkHandshakeRatio runs both back to back in one process,
// interleaved in batches, and reports server/bare throughput as "ratio".

const (
	benchClients = 8
	benchKeys    = 32
)

// handshakeEnv is one server context (ZAP handler + echoing CURVE ROUTER)
// and the client side that connects to it.
type handshakeEnv struct {
	serverKey keypair
	clients   []keypair
	endpoint  string
	cctx      *zmq4.Context // client context
	next      atomic.Uint64
}

func newHandshakeEnv(b *testing.B, useServer bool) *handshakeEnv {
	b.Helper()
	e := &handshakeEnv{serverKey: newKeypair(b)}
	users := make(map[[32]byte]Result, benchKeys)
	for i := range benchKeys {
		kp := newKeypair(b)
		e.clients = append(e.clients, kp)
		users[kp.raw()] = Result{Status: StatusOK, UserID: fmt.Sprintf("node%02d", i),
			Properties: map[string]string{"X-Roles": "proxy"}}
	}
	sctx, err := zmq4.NewContext()
	must(b, err)
	var srv *Server
	var bare sync.WaitGroup
	if useServer {
		srv, err = NewServer(sctx, mapAuth(users), Config{Properties: []string{"X-Roles"}, Logger: testLogger(b, nil)})
		must(b, err)
		must(b, srv.Start())
	} else {
		bare.Add(1)
		go bareZAP(b, sctx, &bare)
	}
	echo := make(chan string)
	var echoDone sync.WaitGroup
	echoDone.Add(1)
	go echoServer(b, sctx, e.serverKey, echo, &echoDone)
	e.endpoint = <-echo
	e.cctx, err = zmq4.NewContext()
	must(b, err)
	b.Cleanup(func() {
		// Terminating the server context makes the echo and bare loops
		// (and the Server's loop) see ETERM and close their sockets.
		within(b, termTimeout, "client context term", func() { _ = e.cctx.Term() })
		within(b, termTimeout, "server context term", func() { _ = sctx.Term() })
		echoDone.Wait()
		bare.Wait()
		if srv != nil {
			_ = srv.Close()
		}
	})
	return e
}

// bareZAP accepts every ZAP request: the baseline handler.
func bareZAP(b *testing.B, zctx *zmq4.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	r, err := zctx.NewSocket(zmq4.ROUTER)
	if err != nil {
		b.Error(err)
		return
	}
	defer r.Close()
	_ = r.SetLinger(0)
	if err := r.Bind(Endpoint); err != nil {
		b.Error(err)
		return
	}
	for {
		msg, err := r.RecvMessageBytes(0)
		if err != nil {
			return // ETERM
		}
		if len(msg) < 4 {
			continue
		}
		_, _ = r.SendMessage(msg[0], "", "1.0", msg[3], "200", "", "user", "")
	}
}

// echoServer binds a CURVE ROUTER, reports its endpoint and echoes every
// message until the context is terminated.
func echoServer(b *testing.B, zctx *zmq4.Context, kp keypair, endpoint chan<- string, wg *sync.WaitGroup) {
	defer wg.Done()
	r, err := zctx.NewSocket(zmq4.ROUTER)
	if err != nil {
		b.Error(err)
		close(endpoint)
		return
	}
	defer r.Close()
	_ = r.SetLinger(0)
	_ = r.SetCurveServer(1)
	_ = r.SetCurveSecretkey(kp.secret)
	_ = r.SetZapDomain("bench")
	if err := r.Bind("tcp://127.0.0.1:*"); err != nil {
		b.Error(err)
		close(endpoint)
		return
	}
	ep, _ := r.GetLastEndpoint()
	endpoint <- ep
	for {
		msg, err := r.RecvMessageBytes(0)
		if err != nil {
			return // ETERM
		}
		_, _ = r.SendMessage(msg)
	}
}

// handshake runs one complete CURVE handshake and message round trip.
func (e *handshakeEnv) handshake() error {
	kp := e.clients[e.next.Add(1)%uint64(len(e.clients))]
	so, err := e.cctx.NewSocket(zmq4.DEALER)
	if err != nil {
		return err
	}
	defer so.Close()
	for _, err := range []error{
		so.SetLinger(0), so.SetCurveServerkey(e.serverKey.public),
		so.SetCurvePublickey(kp.public), so.SetCurveSecretkey(kp.secret),
		so.SetRcvtimeo(10 * time.Second), so.Connect(e.endpoint),
	} {
		if err != nil {
			return err
		}
	}
	if _, err := so.Send("hi", 0); err != nil {
		return err
	}
	if _, err := so.Recv(0); err != nil {
		return fmt.Errorf("no echo: %w", err)
	}
	return nil
}

// run performs n handshakes with benchClients concurrent clients.
func (e *handshakeEnv) run(b *testing.B, n int) {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := e.handshake(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkHandshake(b *testing.B) {
	for _, mode := range []struct {
		name   string
		server bool
	}{{"bare", false}, {"server", true}} {
		b.Run(mode.name, func(b *testing.B) {
			e := newHandshakeEnv(b, mode.server)
			e.run(b, 50) // warm up
			b.ResetTimer()
			e.run(b, b.N)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

func BenchmarkHandshakeRatio(b *testing.B) {
	bare, srv := newHandshakeEnv(b, false), newHandshakeEnv(b, true)
	bare.run(b, 50)
	srv.run(b, 50)
	const batch = 100
	var tBare, tSrv time.Duration
	timed := func(e *handshakeEnv, n int) time.Duration {
		start := time.Now()
		e.run(b, n)
		return time.Since(start)
	}
	b.ResetTimer()
	// Batches alternate in ABBA order so that drift and order effects
	// cancel out.
	for i, done := 0, 0; done < b.N; i++ {
		n := min(batch, b.N-done)
		done += n
		if i%2 == 0 {
			tBare += timed(bare, n)
			tSrv += timed(srv, n)
		} else {
			tSrv += timed(srv, n)
			tBare += timed(bare, n)
		}
	}
	b.StopTimer()
	bareRate := float64(b.N) / tBare.Seconds()
	srvRate := float64(b.N) / tSrv.Seconds()
	b.ReportMetric(bareRate, "bare-handshakes/s")
	b.ReportMetric(srvRate, "server-handshakes/s")
	b.ReportMetric(srvRate/bareRate, "ratio")
}
