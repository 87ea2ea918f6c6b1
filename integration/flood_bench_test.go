//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/client"
)

// BenchmarkFloodHandshake measures what an unknown-key flood costs a
// legitimate node: `zapgate serve` runs with one bound node; its new
// handshakes (connect → HANDSHAKE_SUCCEEDED on the node's socket monitor)
// and its requests (round trips to an echo worker) are timed without a
// flood and then while several clients open CURVE connections with fresh
// random keys, each waiting for its refusal before the next. It reports p50/p99 of both phases and
// the flood/baseline ratios; run it once (-benchtime=1x).
// ZAPGATE_FLOOD_CLIENTS sets the flooding clients (default 16) and
// ZAPGATE_FLOOD_RATE caps their connections per second (default: none);
// ZAPGATE_BENCH_LOG_LEVEL sets serve's log.level (at info the transport
// logs the first 5 connections per address and 10 s, three lines each,
// then one summary line). ZAPGATE_BENCH_BIN
// names the binary to measure (default: the suite's -race build, which
// distorts timings; `make bench` passes bin/zapgate).
func BenchmarkFloodHandshake(b *testing.B) {
	if bin := os.Getenv("ZAPGATE_BENCH_BIN"); bin != "" {
		prev := zapgateBin
		zapgateBin = bin
		defer func() { zapgateBin = prev }()
	}
	for i := 0; i < b.N; i++ {
		floodOnce(b)
	}
}

// latencies are one phase's timings.
type latencies struct{ hs, req []time.Duration }

func floodOnce(b *testing.B) {
	extra := ""
	if lvl := os.Getenv("ZAPGATE_BENCH_LOG_LEVEL"); lvl != "" {
		extra = "log:\n  level: " + lvl + "\n"
	}
	e := newFloodEnv(b, extra)
	cmd, out := e.start(b)
	e.out = out
	defer stopServe(b, cmd, out)
	worker, err := client.New(client.Config{Endpoint: e.listen, ServerKey: e.server, PublicKey: e.node.Public, SecretKey: *e.node.Secret})
	if err != nil {
		b.Fatal(err)
	}
	defer worker.Close()
	wctx, stopWorker := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		worker.Serve(wctx, "echo", func(_ context.Context, cmd string, p [][]byte) ([][]byte, error) { return p, nil })
	}()
	defer func() { stopWorker(); wg.Wait() }()
	requester, err := client.New(client.Config{Endpoint: e.listen, ServerKey: e.server, PublicKey: e.node.Public, SecretKey: *e.node.Secret})
	if err != nil {
		b.Fatal(err)
	}
	defer requester.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := requester.Request(ctx, "echo", "task.ping")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("echo worker not reachable: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		b.Fatal(err)
	}
	defer zctx.Term()

	b.ResetTimer()
	base := e.measure(b, zctx, requester)
	denied0 := e.metric("zapgate_zap_denied_total")
	clients := 16
	if n, err := strconv.Atoi(os.Getenv("ZAPGATE_FLOOD_CLIENTS")); err == nil && n > 0 {
		clients = n
	}
	offered, _ := strconv.ParseFloat(os.Getenv("ZAPGATE_FLOOD_RATE"), 64)
	stop := e.flood(b, clients, offered)
	time.Sleep(time.Second)
	start := time.Now()
	flooded := e.measure(b, zctx, requester)
	secs := time.Since(start).Seconds()
	stop()
	b.StopTimer()
	rate := (e.metric("zapgate_zap_denied_total") - denied0) / (secs + 1)

	p := func(d []time.Duration, q float64) float64 {
		slices.Sort(d)
		return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(p(base.hs, 0.5), "base-hs-p50-ms")
	b.ReportMetric(p(base.hs, 0.99), "base-hs-p99-ms")
	b.ReportMetric(p(flooded.hs, 0.5), "flood-hs-p50-ms")
	b.ReportMetric(p(flooded.hs, 0.99), "flood-hs-p99-ms")
	b.ReportMetric(p(base.req, 0.5), "base-req-p50-ms")
	b.ReportMetric(p(base.req, 0.99), "base-req-p99-ms")
	b.ReportMetric(p(flooded.req, 0.5), "flood-req-p50-ms")
	b.ReportMetric(p(flooded.req, 0.99), "flood-req-p99-ms")
	b.ReportMetric(p(flooded.hs, 0.99)/p(base.hs, 0.99), "hs-p99-ratio")
	b.ReportMetric(p(flooded.req, 0.99)/p(base.req, 0.99), "req-p99-ratio")
	b.ReportMetric(rate, "refused/s")
	b.Logf("binary %s; %d flooding clients refused %.0f handshakes/s", zapgateBin, clients, rate)
}

// measure times 60 new handshakes and 300 requests of the bound node.
func (e *floodEnv) measure(b *testing.B, zctx *zmq.Context, requester *client.Client) latencies {
	var l latencies
	for i := 0; i < 60; i++ {
		d, err := e.handshake(zctx)
		if err != nil {
			b.Fatalf("handshake %d: %v\n%s", i, err, e.out)
		}
		l.hs = append(l.hs, d)
	}
	for i := 0; i < 300; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t0 := time.Now()
		_, err := requester.Request(ctx, "echo", "task.ping")
		cancel()
		if err != nil {
			b.Fatalf("request %d: %v", i, err)
		}
		l.req = append(l.req, time.Since(t0))
	}
	return l
}

var monitorSeq atomic.Int64

// handshake opens a new CURVE connection with the bound node's key and
// returns the time until the handshake succeeded.
func (e *floodEnv) handshake(zctx *zmq.Context) (time.Duration, error) {
	s, err := zctx.NewSocket(zmq.DEALER)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	s.SetLinger(0)
	s.SetCurveServerkey(e.server.String())
	s.SetCurvePublickey(e.node.Public.String())
	s.SetCurveSecretkey(e.node.Secret.Z85())
	addr := fmt.Sprintf("inproc://flood-monitor-%d", monitorSeq.Add(1))
	if err := s.Monitor(addr, zmq.EVENT_HANDSHAKE_SUCCEEDED|zmq.EVENT_HANDSHAKE_FAILED_AUTH|zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL|
		zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL|zmq.EVENT_MONITOR_STOPPED); err != nil {
		return 0, err
	}
	mon, err := zctx.NewSocket(zmq.PAIR)
	if err != nil {
		return 0, err
	}
	defer mon.Close()
	mon.SetRcvtimeo(15 * time.Second)
	if err := mon.Connect(addr); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := s.Connect(e.listen); err != nil {
		return 0, err
	}
	ev, _, val, err := mon.RecvEvent(0)
	d := time.Since(t0)
	// Stop the monitor and drain it before closing (docs/architecture.md).
	s.Monitor("", 0)
	for {
		stopped, _, _, rerr := mon.RecvEvent(0)
		if rerr != nil || stopped == zmq.EVENT_MONITOR_STOPPED {
			break
		}
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("no handshake event: %w", err)
	case ev != zmq.EVENT_HANDSHAKE_SUCCEEDED:
		return 0, fmt.Errorf("handshake event %v (%d)", ev, val)
	}
	return d, nil
}

// flood runs n goroutines that each open a connection with a fresh random
// key, wait until it is refused, and start again (a closed-loop flood, so
// the refusal rate is what the broker can sustain); with rate > 0 they
// start at most rate connections per second in all, so that two builds
// face the same load. stop ends them.
func (e *floodEnv) flood(b *testing.B, n int, rate float64) (stop func()) {
	zctx, err := zmq.NewContext()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pace <-chan time.Time
			if rate > 0 {
				t := time.NewTicker(time.Duration(float64(n) / rate * float64(time.Second)))
				defer t.Stop()
				pace = t.C
			}
			for {
				if pace != nil {
					select {
					case <-done:
						return
					case <-pace:
					}
				}
				select {
				case <-done:
					return
				default:
				}
				if err := e.refusedOnce(zctx); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	return func() {
		close(done)
		wg.Wait()
		zctx.Term()
	}
}

// refusedOnce opens one connection with a random key and waits for its
// handshake to fail (or 5s).
func (e *floodEnv) refusedOnce(zctx *zmq.Context) error {
	s, err := outsider(zctx, "", e.server)
	if err != nil {
		return err
	}
	defer s.Close()
	addr := fmt.Sprintf("inproc://flood-monitor-%d", monitorSeq.Add(1))
	if err := s.Monitor(addr, zmq.EVENT_HANDSHAKE_SUCCEEDED|zmq.EVENT_HANDSHAKE_FAILED_AUTH|zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL|
		zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL|zmq.EVENT_MONITOR_STOPPED); err != nil {
		return err
	}
	mon, err := zctx.NewSocket(zmq.PAIR)
	if err != nil {
		return err
	}
	defer mon.Close()
	mon.SetRcvtimeo(5 * time.Second)
	if err := mon.Connect(addr); err != nil {
		return err
	}
	if err := s.Connect(e.listen); err != nil {
		return err
	}
	mon.RecvEvent(0)
	s.Monitor("", 0)
	for {
		ev, _, _, err := mon.RecvEvent(0)
		if err != nil || ev == zmq.EVENT_MONITOR_STOPPED {
			return nil
		}
	}
}
