package broker

import (
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/zap"
)

func TestRevocationDuringLiveSession(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	worker := e.dial("PROXY01$")
	worker.ready("proxy")
	e.rec.wait(t, "registered", func(ev Event) bool { return ev.Action == ActionServe })
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start")
	addr, _ := worker.serveOne()
	worker.replyTo(addr, "ok")
	client.reply("proxy")

	// The worker's key is revoked: it is disconnected within a second,
	// although it sends nothing.
	start := time.Now()
	e.authz.revoke(worker.key)
	worker.command(mdp.Disconnect, time.Second)
	t.Logf("worker disconnected %s after revocation", time.Since(start))
	ev := e.rec.wait(t, "serve refusal", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeFailure })
	if ev.RuleID != "key-revoked" || ev.Principal != "PROXY01$" {
		t.Fatalf("event %+v", ev)
	}
	// The client's key is revoked: its next request is refused.
	e.authz.revoke(client.key)
	client.request("proxy", "task.start")
	if r := client.refusal("proxy"); r.Code != 403 {
		t.Fatalf("refusal %+v", r)
	}
}

func TestRevokedWhileHoldingRequest(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	worker := e.dial("PROXY01$")
	worker.ready("proxy")
	e.rec.wait(t, "registered", func(ev Event) bool { return ev.Action == ActionServe })
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start")
	addr, _ := worker.serveOne()
	e.authz.revoke(worker.key)
	// Its reply is not relayed; the client learns the outcome is unknown.
	worker.replyTo(addr, "ok")
	r := client.refusal("proxy")
	if r.Code != 502 && r.Code != 503 {
		t.Fatalf("refusal %+v", r)
	}
	worker.command(mdp.Disconnect, time.Second)
}

func TestHeartbeatsAndExpiry(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	w := e.dial("PROXY01$")
	w.ready("proxy")
	// The broker heartbeats; a worker that answers stays registered past
	// the expiry (3 × 100 ms).
	for range 8 {
		w.command(mdp.Heartbeat, time.Second)
		w.send(mdp.WorkerCommand(mdp.Heartbeat)...)
	}
	if s := e.broker.Stats(); s.WorkersExpired != 0 {
		t.Fatalf("heartbeating worker expired: %+v", s)
	}
	// Silent, it expires and is told so.
	start := time.Now()
	w.command(mdp.Disconnect, 2*time.Second)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("expired after %s", d)
	}
	eventually(t, time.Second, "expiry counted", func() bool { return e.broker.Stats().WorkersExpired == 1 })
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start")
	if r := client.refusal("proxy"); r.Code != 404 {
		t.Fatalf("refusal %+v", r)
	}
}

func TestMMI(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*", "request proxy mmi.service", "request ghost mmi.service")
	w := e.dial("PROXY01$")
	w.ready("proxy")
	e.rec.wait(t, "registered", func(ev Event) bool { return ev.Action == ActionServe })
	c := e.dial("BACKUP01$")
	for _, tc := range []struct {
		body []string
		want string
	}{
		{[]string{"proxy"}, "200"},
		{[]string{"proxy", "task.start"}, "200"},
		{[]string{"proxy", "repo.delete"}, "404"}, // may not request it
		{[]string{"repository"}, "404"},           // may not see it
		{[]string{"ghost"}, "404"},                // may see it, no worker
		{[]string{mdp.ServicePublish}, "200"},
	} {
		c.request(mdp.ServiceMMI, tc.body...)
		if got := c.reply(mdp.ServiceMMI); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("mmi.service %q = %q, want %s", tc.body, got, tc.want)
		}
	}
	c.request("mmi.workers", "proxy")
	if got := c.reply("mmi.workers"); !slices.Equal(got, []string{"501"}) {
		t.Errorf("mmi.workers = %q", got)
	}
	c.request(mdp.ServiceMMI)
	if r := c.refusal(mdp.ServiceMMI); r.Code != 400 {
		t.Errorf("empty mmi.service: %+v", r)
	}
}

func TestGracefulShutdown(t *testing.T) {
	cfg := testConfig()
	cfg.NoWorkerWait = 5 * time.Second
	e := newEnv(t, cfg)
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*", "subscribe job.**")
	w := e.dial("PROXY01$")
	w.ready("proxy")
	e.rec.wait(t, "registered", func(ev Event) bool { return ev.Action == ActionServe })
	a, b, sub := e.dial("BACKUP01$"), e.dial("BACKUP01$"), e.dial("BACKUP01$")
	sub.request(mdp.ServiceSubscribe, "job.**")
	sub.reply(mdp.ServiceSubscribe)
	a.request("proxy", "task.long")
	addr, _ := w.serveOne()
	b.request("proxy", "task.queued")
	e.rec.wait(t, "queued request authorized", func(ev Event) bool { return ev.Command == "task.queued" })

	closed := make(chan struct{})
	start := time.Now()
	go func() { e.broker.Close(); close(closed) }()
	// The queued request is answered at once; new work is refused.
	if r := b.refusal("proxy"); r.Code != 503 || r.Reason != mdp.ReasonShuttingDown {
		t.Fatalf("queued request: %+v", r)
	}
	b.request("proxy", "task.new")
	if r := b.refusal("proxy"); r.Reason != mdp.ReasonShuttingDown {
		t.Fatalf("new request: %+v", r)
	}
	// The busy worker finishes; its reply is relayed and audited.
	w.replyTo(addr, "done")
	if got := a.reply("proxy"); !slices.Equal(got, []string{"done"}) {
		t.Fatalf("reply %q", got)
	}
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not return")
	}
	t.Logf("graceful close took %s", time.Since(start))
	if err := <-e.runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	w.command(mdp.Disconnect, time.Second)
	if r := sub.refusal(mdp.ServiceEvent); r.Reason != mdp.ReasonShuttingDown || r.Detail != "job.**" {
		t.Fatalf("subscriber notice %+v", r)
	}
	if len(e.rec.find(func(ev Event) bool { return ev.Action == ActionReply && ev.Outcome == OutcomeSuccess })) != 1 {
		t.Fatal("the reply relayed during the drain was not audited")
	}
}

func TestShutdownDoesNotHangOnStuckWorker(t *testing.T) {
	cfg := testConfig()
	cfg.DrainTimeout = 300 * time.Millisecond
	e := newEnv(t, cfg)
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	w := e.dial("PROXY01$")
	w.ready("proxy")
	e.rec.wait(t, "registered", func(ev Event) bool { return ev.Action == ActionServe })
	c := e.dial("BACKUP01$")
	c.request("proxy", "task.stuck")
	w.serveOne()
	start := time.Now()
	e.broker.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %s", d)
	}
	if r := c.refusal("proxy"); r.Code != 503 || r.Reason != mdp.ReasonWorkerLost {
		t.Fatalf("refusal %+v", r)
	}
}

func TestRunStopsWhenZAPStops(t *testing.T) {
	e := newEnv(t, testConfig())
	e.zap.Close()
	select {
	case err := <-e.runErr:
		if err == nil || !strings.Contains(err.Error(), "ZAP server stopped") {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run kept going without a ZAP server")
	}
}

func TestContextCancelStopsRun(t *testing.T) {
	e := newEnv(t, testConfig())
	e.cancel()
	if err := <-e.runErr; err != nil {
		t.Fatal(err)
	}
	if err := e.broker.Run(context.Background()); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

// A ZAP handler that accepts without a User-Id (a misconfiguration) must
// not get a message relayed: it is dropped and raises a critical event.
func TestEmptyUserIDDropped(t *testing.T) {
	zctx, err := zmq.NewContext()
	must(t, err)
	handler, err := zctx.NewSocket(zmq.ROUTER)
	must(t, err)
	must(t, handler.SetLinger(0))
	must(t, handler.Bind(zap.Endpoint))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // answers 200 with an empty user id
		defer close(done)
		_ = handler.SetRcvtimeo(50 * time.Millisecond)
		for {
			select {
			case <-stop:
				handler.Close()
				return
			default:
			}
			msg, err := handler.RecvMessageBytes(0)
			if err != nil || len(msg) < 4 {
				continue
			}
			_, _ = handler.SendMessage(msg[0], "", "1.0", msg[3], "200", "OK", "", "")
		}
	}()
	pub, sec, _ := certs.GenerateKeypair()
	rec := &memRecorder{}
	cfg := testConfig()
	cfg.ServerSecret = sec
	cfg.RoutingIDs = newKeyTable().minter
	b, err := New(zctx, cfg, newTableAuthz(), rec, nil)
	must(t, err)
	go b.Run(context.Background())
	cpub, csec, _ := certs.GenerateKeypair()
	d, err := zctx.NewSocket(zmq.DEALER)
	must(t, err)
	must(t, d.SetLinger(0))
	must(t, d.ClientAuthCurve(pub.String(), cpub.String(), csec.Z85()))
	must(t, d.Connect(b.Endpoint()))
	_, err = d.SendMessage("", mdp.ClientHeader, "mmi.service", "proxy")
	must(t, err)
	ev := rec.wait(t, "critical drop", func(ev Event) bool { return ev.Action == ActionDrop })
	if ev.Severity != SeverityCritical || ev.Reason != "empty-user-id" || ev.Outcome != OutcomeFailure {
		t.Fatalf("event %+v", ev)
	}
	n := &node{t: t, sock: d, name: "anonymous"}
	if _, err := n.recv(200 * time.Millisecond); !errors.Is(err, errTimeout) {
		t.Fatalf("an unauthenticated peer got an answer: %v", err)
	}
	d.Close()
	b.Close()
	close(stop)
	<-done
	zctx.Term()
}

func TestTransportLogs(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	ok := e.dial("PROXY01$")
	ok.request(mdp.ServiceMMI, "proxy")
	ok.reply(mdp.ServiceMMI)
	// A key nobody enrolled.
	pub, sec, _ := certs.GenerateKeypair()
	e.dialKey("intruder", pub, sec)
	peer := `peer=127\.0\.0\.1:\d+`
	eventually(t, 3*time.Second, "handshake failure logged", func() bool {
		return regexp.MustCompile(`msg="handshake failed" component=transport ` + peer + ` reason=auth zap.status=400`).MatchString(e.logs.String())
	})
	logs := e.logs.String()
	for _, re := range []string{`msg=accepted component=transport ` + peer, `msg=closed component=transport ` + peer} {
		if !regexp.MustCompile(re).MatchString(logs) {
			t.Errorf("no %q in\n%s", re, logs)
		}
	}
}

func TestRoutingIDReuseIsNotIdentity(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("PROXY02$", "serve proxy")
	id := func(s *zmq.Socket) { must(t, s.SetIdentity("same-id")) }
	a := e.dial("PROXY01$", id)
	a.ready("proxy")
	e.rec.wait(t, "registered", func(ev Event) bool { return ev.Action == ActionServe })
	a.sock.Close()
	time.Sleep(100 * time.Millisecond)
	// Another identity asks for the routing id and pretends to be the
	// worker: the broker gave its connection a routing id of its own, so
	// it is an unknown worker (MDP: DISCONNECT) and inherits nothing.
	b := e.dial("PROXY02$", id)
	b.send(mdp.WorkerCommand(mdp.Heartbeat)...)
	b.command(mdp.Disconnect, 2*time.Second)
}

// Garbage from an authenticated peer is refused or dropped; the broker
// keeps serving (security invariant 8).
func TestGarbageDoesNotStopTheBroker(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("BACKUP01$", "request proxy mmi.service")
	rng := rand.New(rand.NewPCG(1, 2))
	heads := []string{"", mdp.ClientHeader, mdp.WorkerHeader, "MDPC0"}
	fuzz := e.dial("FUZZ$")
	for range 500 {
		frames := [][]byte{{}, []byte(heads[rng.IntN(len(heads))])}
		for range rng.IntN(6) {
			f := make([]byte, rng.IntN(12))
			for i := range f {
				f[i] = byte(rng.IntN(8)) // small bytes hit the MDPW01 commands
			}
			frames = append(frames, f)
		}
		if rng.IntN(10) == 0 {
			frames = frames[1:]
		}
		fuzz.send(frames...)
	}
	ok := e.dial("BACKUP01$")
	ok.request(mdp.ServiceMMI, "proxy")
	if got := ok.reply(mdp.ServiceMMI); len(got) != 1 || got[0] != "404" {
		t.Fatalf("after garbage: %q", got)
	}
	if s := e.broker.Stats(); s.Malformed == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCloseBeforeRun(t *testing.T) {
	zctx, err := zmq.NewContext()
	must(t, err)
	zs, err := zap.NewServer(zctx, zap.AuthenticatorFunc(newKeyTable().authenticate), zap.Config{})
	must(t, err)
	must(t, zs.Start())
	_, sec, _ := certs.GenerateKeypair()
	cfg := testConfig()
	cfg.ServerSecret = sec
	cfg.RoutingIDs = newKeyTable().minter
	b, err := New(zctx, cfg, newTableAuthz(), &memRecorder{}, nil)
	must(t, err)
	must(t, b.Close())
	must(t, b.Close())
	if err := b.Run(context.Background()); err == nil {
		t.Fatal("Run after Close succeeded")
	}
	zs.Close()
	must(t, zctx.Term())
}

// A flood of unknown keys from one address is logged in full only for the
// first connections of the interval, then summed up in one line; an
// authenticated connection past the budget still logs that it closed.
func TestTransportLogsBoundedPerSource(t *testing.T) {
	cfg := testConfig()
	cfg.UnauthenticatedLogs = LogBudget{PerSource: 2, Interval: time.Hour} // flushed by hand
	e := newEnv(t, cfg)
	e.authz.grant("PROXY01$", "serve proxy")
	const intruders = 12
	for i := 0; i < intruders; i++ {
		pub, sec, _ := certs.GenerateKeypair()
		e.dialKey("intruder", pub, sec)
	}
	lines := e.broker.mon.lines
	// Past the budget each intruder's accepted and closed are counted.
	eventually(t, 5*time.Second, "intruders' connections counted", func() bool {
		return lines.Stats().Suppressed >= 2*(intruders-2)
	})
	ok := e.dial("PROXY01$")
	ok.request(mdp.ServiceMMI, "proxy")
	ok.reply(mdp.ServiceMMI)
	count := func(re string) int { return len(regexp.MustCompile(re).FindAllString(e.logs.String(), -1)) }
	closedBefore := count(`msg=closed component=transport`)
	ok.sock.Close()
	eventually(t, 3*time.Second, "the authenticated connection's close logged", func() bool {
		return count(`msg=closed component=transport`) == closedBefore+1
	})
	lines.Flush()
	logs := e.logs.String()
	if n := count(`msg=accepted component=transport`); n != 2 {
		t.Errorf("%d accepted lines, want the budget of 2:\n%s", n, logs)
	}
	// A failure that could not be paired with its connection is budgeted
	// as of an unknown source.
	if n := count(`msg="handshake failed" component=transport`); n > 4 {
		t.Errorf("%d handshake failed lines, want at most 2 + 2:\n%s", n, logs)
	}
	sum := regexp.MustCompile(`msg="connections summarized" component=transport source.ip=127\.0\.0\.1 events=\d+ suppressed=\d+ kinds=accepted:11,closed:10(,handshake-failed:\d+)? `)
	if !sum.MatchString(logs) {
		t.Errorf("no summary line matching %s in\n%s", sum, logs)
	}
}
