package broker

import (
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
