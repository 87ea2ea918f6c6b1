package broker

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
)

func TestNewRefusesWithoutZAPHandler(t *testing.T) {
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	_, sec, _ := certs.GenerateKeypair()
	cfg := testConfig()
	cfg.ServerSecret = sec
	cfg.RoutingIDs = newKeyTable().minter
	_, err = New(zctx, cfg, newTableAuthz(), &memRecorder{}, nil)
	if err == nil || !strings.Contains(err.Error(), "no ZAP handler") {
		t.Fatalf("New without a ZAP handler: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	_, sec, _ := certs.GenerateKeypair()
	for name, c := range map[string]Config{
		"no endpoint":       {ServerSecret: sec},
		"no secret":         {Endpoint: "tcp://127.0.0.1:*"},
		"negative liveness": {Endpoint: "tcp://127.0.0.1:*", ServerSecret: sec, Liveness: -1},
		"negative wait":     {Endpoint: "tcp://127.0.0.1:*", ServerSecret: sec, NoWorkerWait: -time.Second},
		"negative size":     {Endpoint: "tcp://127.0.0.1:*", ServerSecret: sec, MaxMessageSize: -1},
		"no routing ids":    {Endpoint: "tcp://127.0.0.1:*", ServerSecret: sec},
	} {
		if c.RoutingIDs == nil && name != "no routing ids" {
			c.RoutingIDs = newKeyTable().minter
		}
		if _, err := c.withDefaults(); err == nil || !strings.HasPrefix(err.Error(), "broker: config: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := Config{Endpoint: "tcp://127.0.0.1:*", ServerSecret: sec, RoutingIDs: newKeyTable().minter}
	d, err := c.withDefaults()
	if err != nil || d.Heartbeat != DefaultHeartbeat || d.Liveness != 3 || c.Heartbeat != 0 {
		t.Fatalf("defaults: %+v %v (caller's config must not change)", d, err)
	}
}

func TestRequestAllowedAndRefused(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	worker := e.dial("PROXY01$")
	worker.ready("proxy")
	e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })
	client := e.dial("BACKUP01$")

	client.request("proxy", "task.start", "job-7")
	addr, body := worker.serveOne()
	if !slices.Equal(body, []string{"task.start", "job-7"}) {
		t.Fatalf("worker got %q", body)
	}
	worker.replyTo(addr, "started", "job-7")
	if got := client.reply("proxy"); !slices.Equal(got, []string{"started", "job-7"}) {
		t.Fatalf("client got %q", got)
	}

	// A command outside the grant: an explicit refusal, never silence.
	client.request("proxy", "repo.delete")
	r := client.refusal("proxy")
	if r.Code != 403 || r.Reason != mdp.ReasonForbidden || !strings.Contains(r.Detail, `"repo.delete"`) {
		t.Fatalf("refusal %+v", r)
	}
	// No command frame: malformed.
	client.request("proxy")
	if r := client.refusal("proxy"); r.Code != 400 || r.Reason != mdp.ReasonMalformed {
		t.Fatalf("refusal %+v", r)
	}
	// A reserved service.
	client.request("zapgate.admin", "x")
	if r := client.refusal("zapgate.admin"); r.Code != 400 || r.Reason != mdp.ReasonReservedService {
		t.Fatalf("refusal %+v", r)
	}

	ok := e.rec.find(func(ev Event) bool { return ev.Action == ActionRequest && ev.Outcome == OutcomeSuccess })
	if len(ok) != 1 || ok[0].Principal != "BACKUP01$" || ok[0].Command != "task.start" || ok[0].RuleID != "grant#1" ||
		ok[0].Ruleset != "test" || len(ok[0].PolicyHash) != len("sha256:")+16 || ok[0].Key != client.key.Fingerprint() || ok[0].Source != "127.0.0.1" {
		t.Fatalf("request events %+v", ok)
	}
	denied := e.rec.wait(t, "denial", func(ev Event) bool { return ev.Action == ActionRequest && ev.Outcome == OutcomeFailure })
	if denied.Reason != mdp.ReasonForbidden || denied.RuleID != "default-deny" || denied.Command != "repo.delete" {
		t.Fatalf("denial event %+v", denied)
	}
	reply := e.rec.wait(t, "reply", func(ev Event) bool { return ev.Action == ActionReply })
	if reply.Outcome != OutcomeSuccess || reply.Principal != "PROXY01$" || reply.Command != "task.start" {
		t.Fatalf("reply event %+v", reply)
	}
}

func TestNoWorkerAndBusy(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("BACKUP01$", "request * task.*")
	e.authz.grant("PROXY01$", "serve proxy")
	client := e.dial("BACKUP01$")
	start := time.Now()
	client.request("repository", "task.start")
	r := client.refusal("repository")
	if r.Code != 404 || r.Reason != mdp.ReasonNoWorker {
		t.Fatalf("refusal %+v", r)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("refused after %s, before the bounded wait", d)
	}
	worker := e.dial("PROXY01$")
	worker.ready("proxy")
	e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe })
	client.request("proxy", "task.one")
	addr, _ := worker.serveOne() // holds it
	other := e.dial("BACKUP01$")
	other.request("proxy", "task.two")
	if r := other.refusal("proxy"); r.Code != 503 || r.Reason != mdp.ReasonBusy {
		t.Fatalf("refusal %+v", r)
	}
	worker.replyTo(addr, "done")
	client.reply("proxy")
}

func TestQueueLimits(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPending = 2
	cfg.NoWorkerWait = 2 * time.Second
	e := newEnv(t, cfg)
	e.authz.grant("BACKUP01$", "request * task.*")
	client := e.dial("BACKUP01$")
	for _, svc := range []string{"a", "b", "c"} {
		client.request(svc, "task.x")
	}
	if r := client.refusal("c"); r.Code != 503 || r.Reason != mdp.ReasonQueueFull {
		t.Fatalf("third request: %+v", r)
	}
}

func TestWorkerRefusedForWrongRole(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	w := e.dial("PROXY01$")
	w.ready("repository")
	w.command(mdp.Disconnect, 3*time.Second)
	ev := e.rec.wait(t, "serve refusal", func(ev Event) bool { return ev.Action == ActionServe })
	if ev.Outcome != OutcomeFailure || ev.Service != "repository" || ev.Principal != "PROXY01$" {
		t.Fatalf("event %+v", ev)
	}
	// Reserved services are refused without asking the policy.
	w2 := e.dial("PROXY01$")
	w2.ready("mmi.service")
	w2.command(mdp.Disconnect, 3*time.Second)
	if s := e.broker.Stats(); s.WorkersRefused != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReplySpoofingRefused(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("PROXY02$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	a, b := e.dial("PROXY01$"), e.dial("PROXY02$")
	a.ready("proxy")
	e.rec.wait(t, "a registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Principal == "PROXY01$" })
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start")
	addr, _ := a.serveOne()
	b.ready("proxy")
	e.rec.wait(t, "b registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Principal == "PROXY02$" })

	// b answers a's request with a's address: refused, b disconnected.
	b.replyTo(addr, "forged")
	b.command(mdp.Disconnect, 3*time.Second)
	ev := e.rec.wait(t, "spoof", func(ev Event) bool { return ev.Action == ActionReply && ev.Outcome == OutcomeFailure })
	if ev.Principal != "PROXY02$" || ev.Reason != "not-assigned" || ev.Severity != SeverityWarning {
		t.Fatalf("event %+v", ev)
	}
	// The real reply still arrives, and only it.
	a.replyTo(addr, "real")
	if got := client.reply("proxy"); !slices.Equal(got, []string{"real"}) {
		t.Fatalf("client got %q", got)
	}
	if _, err := client.recv(200 * time.Millisecond); !errors.Is(err, errTimeout) {
		t.Fatalf("extra message: %v", err)
	}

	// The assigned worker cannot forge a broker refusal either.
	client.request("proxy", "task.again")
	addr, _ = a.serveOne()
	a.replyTo(addr, mdp.ErrorFrame, "403", "forbidden", "")
	r := client.refusal("proxy")
	if r.Code != 502 || r.Reason != mdp.ReasonReservedFrame {
		t.Fatalf("forged refusal relayed as %+v", r)
	}
	a.command(mdp.Disconnect, 3*time.Second)
	if s := e.broker.Stats(); s.SpoofedReplies != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRecorderFailureRefuses(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*", "publish job.*")
	e.rec.fail(errors.New("disk full"))
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start")
	if r := client.refusal("proxy"); r.Code != 500 || r.Reason != mdp.ReasonAuditUnavailable {
		t.Fatalf("refusal %+v", r)
	}
	client.request(mdp.ServicePublish, "job.done", "x")
	if r := client.refusal(mdp.ServicePublish); r.Code != 500 || r.Reason != mdp.ReasonAuditUnavailable {
		t.Fatalf("refusal %+v", r)
	}
	w := e.dial("PROXY01$")
	w.ready("proxy")
	w.command(mdp.Disconnect, 3*time.Second)
	if !strings.Contains(e.logs.String(), "audit record not written") {
		t.Fatal("lost audit records are not logged")
	}
}

func TestAuthorizerFailureRefuses(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("BACKUP01$", "request proxy task.*")
	e.authz.fail(errors.New("directory unreachable"))
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start")
	if r := client.refusal("proxy"); r.Code != 500 || r.Reason != mdp.ReasonInternal {
		t.Fatalf("refusal %+v", r)
	}
	ev := e.rec.wait(t, "failure event", func(ev Event) bool { return ev.Action == ActionRequest })
	if ev.Outcome != OutcomeFailure || ev.Reason != mdp.ReasonInternal {
		t.Fatalf("event %+v", ev)
	}
}

func TestMalformedMessages(t *testing.T) {
	e := newEnv(t, testConfig())
	e.authz.grant("PROXY01$", "serve proxy")
	n := e.dial("PROXY01$")
	n.send(bs("", "MDPC02", "x")...)
	if r := n.refusal(errorService); r.Code != 400 {
		t.Fatalf("refusal %+v", r)
	}
	n.send(bs("", mdp.ClientHeader, "a\x01b", "cmd")...)
	if r := n.refusal("a\x01b"); r.Code != 400 {
		t.Fatalf("refusal %+v", r)
	}
	n.send(bs("", mdp.ClientHeader, "proxy", "task*")...)
	if r := n.refusal("proxy"); r.Code != 400 || !strings.Contains(r.Detail, "command") {
		t.Fatalf("refusal %+v", r)
	}
	n.send(bs("", mdp.WorkerHeader, "\x01")...) // READY without service
	n.command(mdp.Disconnect, 3*time.Second)
	n.send(bs("", mdp.WorkerHeader, "\x04")...) // HEARTBEAT from a non-worker
	n.command(mdp.Disconnect, 3*time.Second)
	ev := e.rec.wait(t, "drop", func(ev Event) bool { return ev.Action == ActionDrop && ev.Reason == "protocol-error" })
	if ev.Severity != SeverityWarning || ev.Principal != "PROXY01$" {
		t.Fatalf("event %+v", ev)
	}
}
