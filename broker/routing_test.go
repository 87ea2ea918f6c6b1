package broker

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/mdp"
)

// Routing-id takeover (docs/security.md, "Routing ids"): a node with
// nothing but connect permission presents the routing id another node used
// and must receive nothing meant for that node.

// routingConfig keeps a dead worker registered for a while (heartbeats
// are slow), as on a real broker where a crash is noticed late.
func routingConfig() Config {
	cfg := testConfig()
	cfg.Heartbeat = 2 * time.Second
	cfg.NoWorkerWait = time.Second
	return cfg
}

func withID(id string) func(*zmq.Socket) {
	return func(s *zmq.Socket) {
		if err := s.SetIdentity(id); err != nil {
			panic(err)
		}
	}
}

// expectNothing fails if n receives anything but heartbeats within d.
func (n *node) expectNothing(d time.Duration, what string) {
	n.t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg, err := n.recv(time.Until(deadline))
		if err == errTimeout {
			return
		}
		if err != nil {
			n.t.Fatalf("%s: %v", n.name, err)
		}
		if len(msg) == 3 && string(msg[1]) == mdp.WorkerHeader && len(msg[2]) == 1 && mdp.Command(msg[2][0]) == mdp.Heartbeat {
			continue
		}
		n.t.Fatalf("%s received %s: %q", n.name, what, msg)
	}
}

// linkProxy forwards TCP connections to the broker so a test can drop a
// node's link while its socket stays open (a blip; libzmq reconnects).
type linkProxy struct {
	t     testing.TB
	ln    net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
}

func newLinkProxy(t testing.TB, endpoint string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p := &linkProxy{t: t, ln: ln, to: strings.TrimPrefix(endpoint, "tcp://")}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.accept()
	return p
}

func (p *linkProxy) endpoint() string { return "tcp://" + p.ln.Addr().String() }

func (p *linkProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(u, c); u.Close() }()
		go func() { _, _ = io.Copy(c, u); c.Close() }()
	}
}

// cut drops every link through the proxy.
func (p *linkProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// dialVia is dial for a node that connects through p, reconnecting
// slowly after a cut so a squatter can come first.
func (e *env) dialVia(p *linkProxy, principal string, opts ...func(*zmq.Socket)) *node {
	e.t.Helper()
	pub, sec := e.nodes.enroll(principal)
	slow := func(s *zmq.Socket) { must(e.t, s.SetReconnectIvl(500*time.Millisecond)) }
	return e.dialTo(p.endpoint(), principal, pub, sec, append(opts, slow)...)
}

// victimLoss is how the victim of a takeover goes away.
type victimLoss int

const (
	victimGone      victimLoss = iota // crashed: socket closed
	victimLinkDrop                    // link dropped, socket reconnecting
	victimConnected                   // still connected throughout
)

var victimCases = []struct {
	name string
	loss victimLoss
}{{"victim gone", victimGone}, {"victim link dropped", victimLinkDrop}, {"victim connected", victimConnected}}

// squat connects nodes without any grant that present the routing id the
// victim asked for and every routing id the broker minted for it; they
// stay silent, as a squatter that only wants to receive would.
func (e *env) squat(victim *node, asked string) []*node {
	e.t.Helper()
	ids := append([]string{asked}, e.nodes.routingIDs(victim.key)...)
	var out []*node
	for _, id := range ids {
		out = append(out, e.dial("SQUAT$", withID(id)))
	}
	time.Sleep(300 * time.Millisecond) // handshakes done
	return out
}

func (e *env) lose(victim *node, p *linkProxy, loss victimLoss) {
	switch loss {
	case victimGone:
		victim.sock.Close()
	case victimLinkDrop:
		p.cut()
	}
	time.Sleep(100 * time.Millisecond)
}

func TestRoutingIDTakeoverWorker(t *testing.T) {
	for _, tc := range victimCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, routingConfig())
			e.authz.grant("PROXY01$", "serve proxy")
			e.authz.grant("BACKUP01$", "request proxy task.*")
			p := newLinkProxy(t, e.broker.Endpoint())
			victim := e.dialVia(p, "PROXY01$", withID("worker-1"))
			victim.ready("proxy")
			e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })
			e.lose(victim, p, tc.loss)
			squatters := e.squat(victim, "worker-1")

			client := e.dial("BACKUP01$")
			client.request("proxy", "task.start", "job-7")
			if tc.loss == victimConnected {
				addr, body := victim.serveOne()
				if strings.Join(body, " ") != "task.start job-7" {
					t.Fatalf("victim got %q", body)
				}
				victim.replyTo(addr, "started")
				if got := client.reply("proxy"); len(got) != 1 || got[0] != "started" {
					t.Fatalf("client got %q", got)
				}
			}
			for _, s := range squatters {
				s.expectNothing(300*time.Millisecond, "a task meant for the worker")
			}
			if tc.loss != victimConnected {
				// The task is delivered to no one: the worker's
				// connection is gone, and so is its registration.
				r := client.refusal("proxy")
				if r.Code != mdp.CodeNoWorker && r.Code != mdp.CodeUnavailable {
					t.Fatalf("client got %+v", r)
				}
			}
		})
	}
}

func TestRoutingIDTakeoverClient(t *testing.T) {
	for _, tc := range victimCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, routingConfig())
			e.authz.grant("PROXY01$", "serve proxy")
			e.authz.grant("BACKUP01$", "request proxy task.*")
			worker := e.dial("PROXY01$")
			worker.ready("proxy")
			e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })
			p := newLinkProxy(t, e.broker.Endpoint())
			victim := e.dialVia(p, "BACKUP01$", withID("client-1"))
			victim.request("proxy", "task.status", "job-7")
			addr, _ := worker.serveOne() // the reply is now owed to the victim
			e.lose(victim, p, tc.loss)
			squatters := e.squat(victim, "client-1")

			worker.replyTo(addr, "job-7 is running")
			if tc.loss == victimConnected {
				if got := victim.reply("proxy"); len(got) != 1 || got[0] != "job-7 is running" {
					t.Fatalf("victim got %q", got)
				}
			}
			for _, s := range squatters {
				s.expectNothing(500*time.Millisecond, "a reply owed to the client")
			}
		})
	}
}

func TestRoutingIDTakeoverSubscriber(t *testing.T) {
	for _, tc := range victimCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, routingConfig())
			e.authz.grant("PROXY01$", "publish job.status.*")
			e.authz.grant("BACKUP01$", "subscribe job.**")
			p := newLinkProxy(t, e.broker.Endpoint())
			victim := e.dialVia(p, "BACKUP01$", withID("sub-1"))
			victim.request(mdp.ServiceSubscribe, "job.**")
			victim.reply(mdp.ServiceSubscribe)
			e.lose(victim, p, tc.loss)
			squatters := e.squat(victim, "sub-1")

			pub := e.dial("PROXY01$")
			pub.request(mdp.ServicePublish, "job.status.p1", "secret progress")
			pub.reply(mdp.ServicePublish)
			if tc.loss == victimConnected {
				if got := victim.reply(mdp.ServiceEvent); len(got) < 3 || got[2] != "secret progress" {
					t.Fatalf("victim got %q", got)
				}
			}
			for _, s := range squatters {
				s.expectNothing(300*time.Millisecond, "an event for the subscriber")
			}
		})
	}
}

// The real worker reconnects (same key, same requested routing id) while
// a squatter holds the id it used before: it registers.
func TestRoutingIDSquatterDoesNotBlockWorker(t *testing.T) {
	e := newEnv(t, routingConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	first := e.dial("PROXY01$", withID("worker-1"))
	first.ready("proxy")
	e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })
	first.sock.Close()
	time.Sleep(100 * time.Millisecond)
	squatters := e.squat(first, "worker-1")

	pub, sec := first.key, e.nodes.secret(first.key)
	again := e.dialKey("PROXY01$", pub, sec, withID("worker-1"))
	again.ready("proxy")
	eventually(t, 3*time.Second, "second registration", func() bool {
		return len(e.rec.find(func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })) == 2
	})
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start")
	// The dead first registration may be tried first: its delivery fails
	// and the request goes to the live one.
	addr, _ := again.serveOne()
	again.replyTo(addr, "ok")
	if got := client.reply("proxy"); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("client got %q", got)
	}
	for _, s := range squatters {
		s.expectNothing(100*time.Millisecond, "anything")
	}
}

// A connection whose routing id the ZAP handler did not mint (here: the
// handler set none, so libzmq kept the one the node asked for) is never
// served: its messages are dropped and audited, and it is told to
// reconnect.
func TestForeignRoutingIDDropped(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	pub, sec := e.nodes.enroll("PROXY01$")
	e.nodes.mu.Lock()
	e.nodes.unminted[pub] = true
	e.nodes.mu.Unlock()
	n := e.dialKey("PROXY01$", pub, sec, withID("chosen-1"))
	for range 3 {
		n.ready("proxy")
	}
	ev := e.rec.wait(t, "drop audited", func(ev Event) bool { return ev.Action == ActionDrop })
	if ev.Reason != ReasonForeignRoutingID || ev.Severity != SeverityWarning || ev.Principal != "PROXY01$" || ev.Outcome != OutcomeFailure {
		t.Fatalf("event %+v", ev)
	}
	// Repeats are counted, not audited again.
	eventually(t, 3*time.Second, "three drops counted", func() bool { return e.broker.Stats().ForeignRoutingIDs == 3 })
	if got := e.rec.find(func(ev Event) bool { return ev.Action == ActionDrop }); len(got) != 1 {
		t.Fatalf("%d drop events, want 1", len(got))
	}
	// It is only told to reconnect: a worker with DISCONNECT, a client
	// with a 503 reconnect refusal.
	n.command(mdp.Disconnect, time.Second)
	cpub, csec := e.nodes.enroll("BACKUP01$")
	e.nodes.mu.Lock()
	e.nodes.unminted[cpub] = true
	e.nodes.mu.Unlock()
	c := e.dialKey("BACKUP01$", cpub, csec)
	c.request("proxy", "task.start")
	if r := c.refusal("proxy"); r.Code != mdp.CodeUnavailable || r.Reason != mdp.ReasonReconnect {
		t.Fatalf("unminted client got %+v", r)
	}
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start")
	if r := client.refusal("proxy"); r.Code != mdp.CodeNoWorker {
		t.Fatalf("the unminted worker was registered: %+v", r)
	}
	if got := e.rec.find(func(ev Event) bool { return ev.Action == ActionServe }); len(got) != 0 {
		t.Fatalf("serve events %+v", got)
	}
}
