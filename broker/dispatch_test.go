package broker

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/mdp"
)

// A worker's revocation visible to the Authorizer before a request is
// given to it means the request's content never reaches it: the worker is
// authorized at dispatch, disconnected, and the request goes to another
// worker (docs/security.md, "Worker authorization at dispatch").
func TestRevokedWorkerGetsNoTaskAtDispatch(t *testing.T) {
	cfg := testConfig()
	cfg.Heartbeat = time.Second
	cfg.Recheck = time.Minute // the registration's authorization stays fresh
	cfg.NoWorkerWait = 2 * time.Second
	e := newEnv(t, cfg)
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("PROXY02$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	served := func(who string) func(Event) bool {
		return func(ev Event) bool {
			return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess && ev.Principal == who
		}
	}
	revoked := e.dial("PROXY01$")
	revoked.ready("proxy")
	e.rec.wait(t, "first worker registered", served("PROXY01$"))
	other := e.dial("PROXY02$")
	other.ready("proxy")
	e.rec.wait(t, "second worker registered", served("PROXY02$"))

	e.authz.revoke(revoked.key) // visible from now on
	client := e.dial("BACKUP01$")
	client.request("proxy", "task.start", "job-9")

	// The longest-idle worker is the revoked one: it must get DISCONNECT,
	// not the task (command fails on any other command).
	revoked.command(mdp.Disconnect, 3*time.Second)
	addr, body := other.serveOne()
	if len(body) != 2 || body[0] != "task.start" || body[1] != "job-9" {
		t.Fatalf("second worker got %q", body)
	}
	other.replyTo(addr, "started")
	if got := client.reply("proxy"); len(got) != 1 || got[0] != "started" {
		t.Fatalf("client got %q", got)
	}
	ev := e.rec.wait(t, "refusal audited", func(ev Event) bool {
		return ev.Action == ActionServe && ev.Outcome == OutcomeFailure && ev.Principal == "PROXY01$"
	})
	if ev.Service != "proxy" || ev.Command != "task.start" {
		t.Fatalf("event %+v", ev)
	}
	revoked.expectNothing(200*time.Millisecond, "a task after its revocation")
}

// dispatchEnv has two registered proxy workers, PROXY01$ the longest idle,
// whose registrations stay fresh (no background re-check during a test).
func dispatchEnv(t *testing.T) (e *env, first, second, client *node) {
	cfg := testConfig()
	cfg.Heartbeat = time.Second
	cfg.Liveness = 30 // test workers do not heartbeat
	cfg.Recheck = time.Minute
	cfg.NoWorkerWait = 2 * time.Second
	e = newEnv(t, cfg)
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("PROXY02$", "serve proxy")
	e.authz.grant("BACKUP01$", "request proxy task.*")
	for _, p := range []string{"PROXY01$", "PROXY02$"} {
		n := e.dial(p)
		n.ready("proxy")
		e.rec.wait(t, p+" registered", func(ev Event) bool {
			return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess && ev.Principal == p
		})
		if first == nil {
			first = n
		} else {
			second = n
		}
	}
	return e, first, second, e.dial("BACKUP01$")
}

// A technical failure of the dispatch-time check does not send the task:
// the request goes to another worker, and the worker gets requests again
// once a re-check passes.
func TestDispatchCheckFailureSendsNothing(t *testing.T) {
	e, first, second, client := dispatchEnv(t)
	e.authz.failFor("PROXY01$", errors.New("directory unreachable"))
	client.request("proxy", "task.start", "job-1")
	addr, _ := second.serveOne()
	first.expectNothing(200*time.Millisecond, "a task its authorization could not confirm")
	second.replyTo(addr, "one")
	if got := client.reply("proxy"); len(got) != 1 || got[0] != "one" {
		t.Fatalf("client got %q", got)
	}
	if e.broker.Stats().DispatchRefused == 0 {
		t.Fatal("refusal at dispatch not counted")
	}
	e.authz.failFor("PROXY01$", nil)
	time.Sleep(time.Second) // background re-checks (every tick while untrusted) pass
	client.request("proxy", "task.start", "job-2")
	addr, body := first.serveOne() // re-checked in the background, longest idle
	if body[1] != "job-2" {
		t.Fatalf("first worker got %q", body)
	}
	first.replyTo(addr, "two")
	client.reply("proxy")
}

// A worker that leaves while its dispatch is being authorized gets
// nothing; the request goes to another worker.
func TestWorkerGoneDuringDispatchCheck(t *testing.T) {
	e, first, second, client := dispatchEnv(t)
	open := e.authz.gate("PROXY01$")
	client.request("proxy", "task.start", "job-1")
	select {
	case <-e.authz.entered: // the dispatch check of the first worker waits
	case <-time.After(3 * time.Second):
		t.Fatal("no dispatch check")
	}
	first.send(mdp.WorkerCommand(mdp.Disconnect)...)
	eventually(t, 3*time.Second, "worker removed", func() bool {
		return strings.Contains(e.logs.String(), "why=\"worker disconnected\"")
	})
	open()
	addr, _ := second.serveOne()
	second.replyTo(addr, "done")
	if got := client.reply("proxy"); len(got) != 1 || got[0] != "done" {
		t.Fatalf("client got %q", got)
	}
	first.expectNothing(200*time.Millisecond, "a task after it left")
}
