package authn

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/audit/flood"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/zap"
)

// slowDisk is a Recorder with group commit over a slow disk: every Append
// waits for the next "fsync" (one per tick), released together. It stands
// for a real disk whose sync takes tick, without the CPU of a real one.
type slowDisk struct {
	mu   sync.Mutex
	next chan struct{}
	stop chan struct{}
}

func newSlowDisk(tick time.Duration) *slowDisk {
	d := &slowDisk{next: make(chan struct{}), stop: make(chan struct{})}
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				d.mu.Lock()
				close(d.next)
				d.next = make(chan struct{})
				d.mu.Unlock()
			case <-d.stop:
				return
			}
		}
	}()
	return d
}

func (d *slowDisk) Append(ctx context.Context, _ audit.Record) (audit.Receipt, error) {
	d.mu.Lock()
	c := d.next
	d.mu.Unlock()
	select {
	case <-c:
		return audit.Receipt{}, nil
	case <-ctx.Done():
		return audit.Receipt{}, ctx.Err()
	}
}

// zapCall sends one ZAP request over sock (REQ) and returns the status.
func zapCall(sock *zmq.Socket, key certs.PublicKey, addr string) (string, error) {
	frames, err := curveReq(key, addr).Frames()
	if err != nil {
		return "", err
	}
	parts := make([]any, len(frames))
	for i, f := range frames {
		parts[i] = f
	}
	if _, err := sock.SendMessage(parts...); err != nil {
		return "", err
	}
	reply, err := sock.RecvMessageBytes(0)
	if err != nil {
		return "", err
	}
	if len(reply) < 3 {
		return "", fmt.Errorf("zap reply of %d frames", len(reply))
	}
	return string(reply[2]), nil
}

// BenchmarkRefusalsBehindGrants measures a bound node's ZAP latency while
// 64 outsiders send unknown-key requests as fast as they are answered,
// through zap.Server (4 workers) and this authenticator over a disk whose
// group commit takes 5 ms: refusals written and waited for as before
// ("sync") against refusals handed to the audit budget ("budget"), in one
// run. It reports p50/p99 of the bound node's answers in both modes and
// the ratio budget/sync of the p99.
func BenchmarkRefusalsBehindGrants(b *testing.B) {
	p99 := map[string]float64{}
	for _, mode := range []string{"sync", "budget"} {
		lat := refusalFlood(b, mode == "budget")
		slices.Sort(lat)
		p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(p(0.5), mode+"-p50-ms")
		b.ReportMetric(p(0.99), mode+"-p99-ms")
		p99[mode] = p(0.99)
	}
	b.ReportMetric(p99["budget"]/p99["sync"], "p99-ratio")
}

func refusalFlood(b *testing.B, budgeted bool) []time.Duration {
	e := newEnv(b, nil)
	disk := newSlowDisk(5 * time.Millisecond)
	defer close(disk.stop)
	e.chain.Audit = disk
	if budgeted {
		agg, err := flood.NewAggregator(flood.AggregatorOptions{Action: "authn.refusals", Submit: func(audit.Record) error { return nil }})
		if err != nil {
			b.Fatal(err)
		}
		defer agg.Close()
		e.chain.Unauthenticated = agg
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		b.Fatal(err)
	}
	srv, err := zap.NewServer(zctx, New(e.chain), zap.Config{Workers: 4, QueueSize: 1024, Timeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { srv.Close(); zctx.Term() }()
	socket := func() *zmq.Socket {
		s, err := zctx.NewSocket(zmq.REQ)
		if err != nil {
			b.Fatal(err)
		}
		s.SetLinger(0)
		if err := s.Connect("inproc://zeromq.zap.01"); err != nil {
			b.Fatal(err)
		}
		return s
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(done); wg.Wait() }()
	outsiders := make([]certs.PublicKey, 512) // random keys nobody bound
	for i := range outsiders {
		if outsiders[i], _, err = certs.GenerateKeypair(); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 64; i++ {
		s := socket()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			for j := i; ; j++ {
				select {
				case <-done:
					return
				default:
				}
				if _, err := zapCall(s, outsiders[j%len(outsiders)], "192.0.2.1"); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	legit := socket()
	defer legit.Close()
	time.Sleep(200 * time.Millisecond)
	var lat []time.Duration
	for i := 0; i < max(b.N, 200); i++ {
		t0 := time.Now()
		if st, err := zapCall(legit, e.keys["PROXY01$"], "127.0.0.1"); err != nil || st != "200" {
			b.Fatalf("bound node answered %q: %v", st, err)
		}
		lat = append(lat, time.Since(t0))
	}
	return lat
}
