package broker

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/internal/shutout"
)

// limitsConfig is testConfig with small message limits and a shut-out
// threshold of offences.
func limitsConfig(offences int) Config {
	cfg := testConfig()
	cfg.MaxFrames = 8
	cfg.MaxMessageBytes = 1000
	cfg.MaxPeerBytes = 2000
	cfg.MaxQueuedBytes = 3000
	cfg.Offenders = shutout.New(shutout.Config{Offences: offences, Window: time.Minute, Duration: time.Minute})
	return cfg
}

func chunks(n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Repeat("x", size)
	}
	return out
}

func TestMessageOverFrameOrByteLimitRefused(t *testing.T) {
	e := newEnv(t, limitsConfig(100))
	e.authz.grant("BACKUP01$", "request * task.*")
	client := e.dial("BACKUP01$")

	// 8 frames in all (delimiter, header, service, command, 4 payload
	// frames) pass the frame limit and reach authorization.
	client.request("proxy", append([]string{"task.start"}, chunks(4, 10)...)...)
	if r := client.refusal("proxy"); r.Reason != mdp.ReasonNoWorker {
		t.Fatalf("8 frames: %+v", r)
	}
	// 9 frames: refused without authorization, whatever the service.
	client.request("proxy", append([]string{"task.start"}, chunks(5, 10)...)...)
	r := client.refusal("proxy")
	if r.Code != 400 || r.Reason != mdp.ReasonTooLarge || !strings.Contains(r.Detail, "9 frames") {
		t.Fatalf("9 frames: %+v", r)
	}
	// 1001 bytes in 5 frames: over the byte limit.
	client.request("proxy", "task.start", strings.Repeat("x", 1001-len("MDPC01proxytask.start")))
	if r := client.refusal("proxy"); r.Code != 400 || r.Reason != mdp.ReasonTooLarge || !strings.Contains(r.Detail, "1001 bytes") {
		t.Fatalf("1001 bytes: %+v", r)
	}
	// Many frames far past the limit: read to the end and dropped; the
	// next message on the connection is handled normally.
	client.request("proxy", append([]string{"task.start"}, chunks(500, 100)...)...)
	if r := client.refusal("proxy"); r.Reason != mdp.ReasonTooLarge || !strings.Contains(r.Detail, "504 frames") {
		t.Fatalf("504 frames: %+v", r)
	}
	client.request("proxy", "task.status")
	if r := client.refusal("proxy"); r.Reason != mdp.ReasonNoWorker {
		t.Fatalf("after the oversized messages: %+v", r)
	}

	drops := e.rec.find(func(ev Event) bool { return ev.Action == ActionDrop && ev.Reason == ReasonTooLarge })
	if len(drops) != 3 {
		t.Fatalf("%d message-too-large events, want 3: %+v", len(drops), drops)
	}
	if d := drops[0]; d.Outcome != OutcomeFailure || d.Severity != SeverityWarning || d.Principal != "BACKUP01$" ||
		d.Service != "proxy" || d.Key != client.key.Fingerprint() {
		t.Fatalf("event %+v", d)
	}
	if n := e.broker.Stats().TooLarge; n != 3 {
		t.Errorf("Stats.TooLarge = %d", n)
	}
}

func TestOversizedWorkerMessageDisconnects(t *testing.T) {
	e := newEnv(t, limitsConfig(100))
	e.authz.grant("PROXY01$", "serve proxy")
	worker := e.dial("PROXY01$")
	worker.ready("proxy")
	e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })
	worker.send(append(bs("", mdp.WorkerHeader, "\x03", "addr", ""), bs(chunks(10, 1)...)...)...)
	worker.command(mdp.Disconnect, 3*time.Second)
	e.rec.wait(t, "drop", func(ev Event) bool { return ev.Action == ActionDrop && ev.Reason == ReasonTooLarge })
}

func TestRepeatedOffenderShutOut(t *testing.T) {
	e := newEnv(t, limitsConfig(2))
	e.authz.grant("PROXY01$", "serve proxy", "request * task.*")
	e.authz.grant("BACKUP01$", "request * task.*")
	pub, sec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	e.nodes.mu.Lock()
	e.nodes.keys[pub] = "PROXY01$"
	e.nodes.mu.Unlock()
	worker := e.dialKey("PROXY01$", pub, sec)
	worker.ready("proxy")
	e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })
	// A second connection with the same key offends.
	offender := e.dialKey("PROXY01$", pub, sec)
	big := append([]string{"task.start"}, chunks(20, 1)...)
	offender.request("proxy", big...)
	if r := offender.refusal("proxy"); r.Reason != mdp.ReasonTooLarge {
		t.Fatalf("first offence: %+v", r)
	}
	offender.request("proxy", big...)
	if r := offender.refusal("proxy"); r.Reason != mdp.ReasonTooLarge {
		t.Fatalf("second offence: %+v", r)
	}
	// The threshold is reached: the key's worker connection gets
	// DISCONNECT, its messages 403 shut-out, even well-formed ones.
	worker.command(mdp.Disconnect, 3*time.Second)
	offender.request("proxy", "task.status")
	if r := offender.refusal("proxy"); r.Code != 403 || r.Reason != mdp.ReasonShutOut {
		t.Fatalf("after the shut-out: %+v", r)
	}
	worker.ready("proxy")
	worker.command(mdp.Disconnect, 3*time.Second)
	ev := e.rec.wait(t, "shut-out", func(ev Event) bool { return ev.Action == ActionDrop && ev.Reason == ReasonShutOut })
	if ev.Principal != "PROXY01$" || ev.Severity != SeverityWarning || ev.Key != worker.key.Fingerprint() {
		t.Fatalf("event %+v", ev)
	}
	if p, _, ok := e.broker.cfg.Offenders.ShutOut(worker.key.String()); !ok || p != "PROXY01$" {
		t.Fatalf("Offenders.ShutOut = %q %v", p, ok)
	}
	// Another node is not affected.
	other := e.dial("BACKUP01$")
	other.request("proxy", "task.status")
	if r := other.refusal("proxy"); r.Reason != mdp.ReasonNoWorker {
		t.Fatalf("another node: %+v", r)
	}
	if s := e.broker.Stats(); s.ShutOut != 1 || s.ShutOutRefused < 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestHeldBytesPerPeerAndReleased(t *testing.T) {
	cfg := limitsConfig(100)
	cfg.NoWorkerWait = 500 * time.Millisecond
	e := newEnv(t, cfg)
	e.authz.grant("BACKUP01$", "request * task.*")
	client := e.dial("BACKUP01$")
	payload := strings.Repeat("x", 800)
	// Two requests of 810 bytes wait for a worker (1620 held); a third
	// would pass max_peer_bytes 2000.
	client.request("a", "task.x", payload)
	client.request("b", "task.x", payload)
	client.request("c", "task.x", payload)
	if r := client.refusal("c"); r.Code != 503 || r.Reason != mdp.ReasonQueueFull || !strings.Contains(r.Detail, "max_peer_bytes") {
		t.Fatalf("third request: %+v", r)
	}
	e.rec.wait(t, "held-bytes drop", func(ev Event) bool {
		return ev.Action == ActionDrop && ev.Reason == mdp.ReasonQueueFull && ev.Service == "c"
	})
	// A second peer still fits under max_queued_bytes 3000 with one.
	other := e.dial("BACKUP01$")
	other.request("d", "task.x", payload)
	other.request("e", "task.x", payload)
	if r := other.refusal("e"); r.Reason != mdp.ReasonQueueFull || !strings.Contains(r.Detail, "max_queued_bytes") {
		t.Fatalf("broker-wide limit: %+v", r)
	}
	// Answered (404 after no_worker_wait), the requests release their
	// bytes: the client may queue again.
	for _, s := range []string{"a", "b"} {
		if r := client.refusal(s); r.Reason != mdp.ReasonNoWorker {
			t.Fatalf("%s: %+v", s, r)
		}
	}
	other.refusal("d")
	client.request("f", "task.x", payload)
	if r := client.refusal("f"); r.Reason != mdp.ReasonNoWorker {
		t.Fatalf("after release: %+v", r)
	}
}

func TestHeldBytesReleasedOnDispatchAndReply(t *testing.T) {
	cfg := limitsConfig(100)
	e := newEnv(t, cfg)
	e.authz.grant("PROXY01$", "serve proxy")
	e.authz.grant("BACKUP01$", "request * task.*")
	worker := e.dial("PROXY01$")
	worker.ready("proxy")
	e.rec.wait(t, "worker registered", func(ev Event) bool { return ev.Action == ActionServe && ev.Outcome == OutcomeSuccess })
	client := e.dial("BACKUP01$")
	payload := strings.Repeat("y", 900)
	for i := range 5 { // 5 × 910 bytes in turn: never more than one held
		client.request("proxy", "task.x", payload)
		addr, body := worker.serveOne()
		if len(body) != 2 || body[1] != payload {
			t.Fatalf("round %d: worker got %d frames", i, len(body))
		}
		worker.replyTo(addr, payload)
		if got := client.reply("proxy"); len(got) != 1 || !bytes.Equal([]byte(got[0]), []byte(payload)) {
			t.Fatalf("round %d: client got %d frames", i, len(got))
		}
	}
}
