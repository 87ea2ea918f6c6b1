package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/internal/netwait"
	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// benchBatch is the number of round trips per client in one batch; the
// relays alternate batch by batch.
const benchBatch = 250

// memAuthz is the benchmark's Authorizer: a map lookup per message, like
// a registry plus a compiled policy with the directory in cache.
type memAuthz struct {
	grants map[string]map[policy.Kind]bool
}

func (a memAuthz) Authorize(_ context.Context, p Peer, act policy.Action) (policy.Decision, error) {
	if a.grants[p.UserID][act.Kind] {
		return policy.Decision{Allow: true, Roles: []string{"bench"}, Rule: policy.Rule{ID: "role:bench#1"}, Revision: "bench"}, nil
	}
	return policy.Decision{Rule: policy.Rule{ID: "default-deny"}, Revision: "bench"}, nil
}

// ringRecorder is the benchmark's Recorder: events go to a bounded ring.
type ringRecorder struct {
	mu   sync.Mutex
	ring [4096]Event
	n    uint64
}

func (r *ringRecorder) Record(_ context.Context, ev Event) error {
	r.mu.Lock()
	r.ring[r.n%uint64(len(r.ring))] = ev
	r.n++
	r.mu.Unlock()
	return nil
}

// benchRelay is one relay under test with its connected clients and
// workers.
type benchRelay struct {
	clients []*zmq.Socket
	stop    atomic.Bool
	wg      sync.WaitGroup
}

// BenchmarkRelayRatio measures request/reply round trips per second
// through the zapgate broker (every request and reply authorized by an
// in-memory Authorizer and audited by an in-memory Recorder) against a
// plain ROUTER relay of the same MDP frames without checks: same process,
// same CURVE transport and ZAP server, same clients and workers,
// alternating batches. Each iteration is one round trip on each relay.
// Clients send one request at a time (closed loop), so the low
// concurrency case measures added latency and the high one added CPU.
func BenchmarkRelayRatio(b *testing.B) {
	for _, c := range []struct{ clients, workers int }{{4, 4}, {16, 8}} {
		b.Run(fmt.Sprintf("clients=%d,workers=%d", c.clients, c.workers), func(b *testing.B) {
			benchRelayRatio(b, c.clients, c.workers)
		})
	}
}

func benchRelayRatio(b *testing.B, clients, workers int) {
	zctx, nodeCtx := mustContext(b), mustContext(b)
	keys := newKeyTable()
	zs, err := zap.NewServer(zctx, zap.AuthenticatorFunc(keys.authenticate),
		zap.Config{Properties: []string{propKey, "X-Zapgate-Roles"}, Logger: slog.New(slog.DiscardHandler)})
	must(b, err)
	must(b, zs.Start())
	spub, ssec, _ := certs.GenerateKeypair()
	cfg := Config{Endpoint: "tcp://127.0.0.1:*", ServerSecret: ssec, RoutingIDs: keys.minter}
	grants := map[policy.Kind]bool{policy.Request: true, policy.Serve: true}
	authz := memAuthz{grants: map[string]map[policy.Kind]bool{"BENCH$": grants}}
	rec := &ringRecorder{}
	gate, err := New(zctx, cfg, authz, rec, nil)
	must(b, err)
	go gate.Run(context.Background())
	plain, plainEP := startPlainRelay(b, zctx, ssec)

	enroll := func() (certs.PublicKey, certs.SecretKey) {
		pub, sec, _ := certs.GenerateKeypair()
		keys.mu.Lock()
		keys.keys[pub] = "BENCH$"
		keys.mu.Unlock()
		return pub, sec
	}
	relays := []*benchRelay{
		connectRelay(b, nodeCtx, gate.Endpoint(), spub, enroll, clients, workers),
		connectRelay(b, nodeCtx, plainEP, spub, enroll, clients, workers),
	}
	var spent [2]time.Duration
	var done [2]int
	b.ResetTimer()
	for left := b.N; left > 0; {
		n := min(left, benchBatch*clients)
		for i, r := range relays {
			spent[i] += r.run(b, n)
			done[i] += n
		}
		left -= n
	}
	b.StopTimer()
	zapRate := float64(done[0]) / spent[0].Seconds()
	plainRate := float64(done[1]) / spent[1].Seconds()
	b.ReportMetric(zapRate, "zapgate-roundtrips/s")
	b.ReportMetric(plainRate, "plain-roundtrips/s")
	b.ReportMetric(zapRate/plainRate, "ratio")
	b.ReportMetric(0, "ns/op")

	for _, r := range relays {
		r.close()
	}
	gate.Close()
	plain.stop.Store(true)
	plain.wg.Wait()
	zs.Close()
	zctx.Term()
	nodeCtx.Term()
	if rec.n == 0 {
		b.Fatal("nothing was audited")
	}
}

func mustContext(b *testing.B) *zmq.Context {
	zctx, err := zmq.NewContext()
	must(b, err)
	return zctx
}

// connectRelay connects the clients and starts echo workers on endpoint.
func connectRelay(b *testing.B, zctx *zmq.Context, endpoint string, server certs.PublicKey,
	enroll func() (certs.PublicKey, certs.SecretKey), clients, workers int) *benchRelay {
	r := &benchRelay{}
	dial := func() *zmq.Socket {
		pub, sec := enroll()
		s, err := zctx.NewSocket(zmq.DEALER)
		must(b, err)
		must(b, s.SetLinger(0))
		must(b, s.ClientAuthCurve(server.String(), pub.String(), sec.Z85()))
		must(b, s.Connect(endpoint))
		return s
	}
	for range workers {
		w := dial()
		_, err := w.SendMessage(mdp.WorkerReady("echo"))
		must(b, err)
		r.wg.Add(1)
		go r.echo(w)
	}
	for range clients {
		r.clients = append(r.clients, dial())
	}
	time.Sleep(200 * time.Millisecond) // handshakes and READYs
	r.run(b, clients*10)               // warm up
	return r
}

// recvWait receives a message, parking in the netpoller (not in libzmq)
// for up to d, like a node in its own process would not hold the
// broker's CPUs.
func recvWait(s *zmq.Socket, w *netwait.Waiter, d time.Duration) ([][]byte, error) {
	deadline := time.Now().Add(d)
	for {
		msg, err := s.RecvMessageBytes(zmq.DONTWAIT)
		if err == nil || !isAgain(err) || !time.Now().Before(deadline) {
			return msg, err
		}
		if err := w.Wait(deadline); err != nil {
			return nil, err
		}
	}
}

// echo serves requests until stopped, heartbeating once a second.
func (r *benchRelay) echo(w *zmq.Socket) {
	defer r.wg.Done()
	defer w.Close()
	wt, _ := netwait.New(w)
	defer wt.Close()
	beat := time.Now()
	for !r.stop.Load() {
		if time.Since(beat) > time.Second {
			beat = time.Now()
			_, _ = w.SendMessage(mdp.WorkerCommand(mdp.Heartbeat))
		}
		msg, err := recvWait(w, wt, 100*time.Millisecond)
		if err != nil || len(msg) < 6 || msg[2][0] != byte(mdp.Request) {
			continue
		}
		_, _ = w.SendMessage(mdp.WorkerReply(msg[3], msg[5:]...))
	}
}

// run makes n round trips spread over the clients and returns the time.
func (r *benchRelay) run(b *testing.B, n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	per := n / len(r.clients)
	for i, c := range r.clients {
		count := per
		if i == 0 {
			count += n % len(r.clients)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wt, _ := netwait.New(c)
			defer wt.Close()
			payload := make([]byte, 64)
			for range count {
				if _, err := c.SendMessage("", mdp.ClientHeader, "echo", "task.status", payload); err != nil {
					b.Error(err)
					return
				}
				msg, err := recvWait(c, wt, 10*time.Second)
				if err != nil || len(msg) < 4 || string(msg[3]) != "task.status" {
					b.Errorf("bad reply %q %v", msg, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func (r *benchRelay) close() {
	r.stop.Store(true)
	r.wg.Wait()
	for _, c := range r.clients {
		c.Close()
	}
}

// startPlainRelay runs a minimal Majordomo relay without any check on a
// CURVE ROUTER: READY makes a worker idle, a request goes to an idle
// worker (or waits), a REPLY goes back to the address it names.
func startPlainRelay(b *testing.B, zctx *zmq.Context, sec certs.SecretKey) (*benchRelay, string) {
	s, err := zctx.NewSocket(zmq.ROUTER)
	must(b, err)
	must(b, s.SetLinger(0))
	must(b, s.SetCurveServer(1))
	must(b, s.SetCurveSecretkey(string(sec[:])))
	must(b, s.SetZapDomain("bench"))
	must(b, s.SetRcvtimeo(100*time.Millisecond))
	must(b, s.Bind("tcp://127.0.0.1:*"))
	ep, _ := s.GetLastEndpoint()
	r := &benchRelay{}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer s.Close()
		var idle [][]byte
		var queue [][][]byte
		send := func(w []byte, req [][]byte) {
			_, _ = s.SendMessage(w, "", mdp.WorkerHeader, []byte{byte(mdp.Request)}, req[0], "", req[4:])
		}
		for !r.stop.Load() {
			msg, err := s.RecvMessageBytes(0)
			if err != nil || len(msg) < 4 {
				continue
			}
			switch string(msg[2]) {
			case mdp.ClientHeader:
				if len(idle) == 0 {
					queue = append(queue, msg)
					continue
				}
				send(idle[0], msg)
				idle = idle[1:]
			case mdp.WorkerHeader:
				switch mdp.Command(msg[3][0]) {
				case mdp.Reply:
					_, _ = s.SendMessage(msg[4], "", mdp.ClientHeader, "echo", msg[6:])
				case mdp.Ready:
				default:
					continue
				}
				if len(queue) > 0 {
					send(msg[0], queue[0])
					queue = queue[1:]
				} else {
					idle = append(idle, msg[0])
				}
			}
		}
	}()
	return r, ep
}
