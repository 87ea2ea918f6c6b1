//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	zbroker "github.com/zapgate/zapgate/broker"
)

// The single-message attack: ONE message of hugeFrames frames of 1 MB
// (each just under max_message_size), which libzmq 4.3.4 would assemble
// in full before the broker could see a byte of it.
const (
	hugeFrames = 1500
	// hugeReceiveHWM keeps the connection backlog small enough that the
	// bound is far below the attack: (8+1) × (4 MiB + framing) ≈ 36 MiB.
	hugeReceiveHWM = 8
)

// pyHugeMessage is the attacker: a CURVE DEALER (pyzmq, zero-copy frames,
// so the attacker itself stays small) that sends one small request, so
// the broker knows who holds the connection, then one message of N
// frames of SIZE bytes, and reports what came back.
const pyHugeMessage = `
import sys, time, zmq, zmq.auth
ep, secret_file, server_file, n, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
pub, sec = zmq.auth.load_certificate(secret_file)
spub, _ = zmq.auth.load_certificate(server_file)
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.linger = 0
s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, spub
s.rcvtimeo = 10000
s.connect(ep)
s.send_multipart([b"", b"MDPC01", b"proxy", b"task.status"])
print("first reply:", s.recv_multipart()[3:6], flush=True)
chunk = b"x" * size
for f in [b"", b"MDPC01", b"proxy", b"task.start"]:
    s.send(f, zmq.SNDMORE)
t0 = time.time()
for i in range(n):
    s.send(chunk, zmq.SNDMORE if i < n - 1 else 0, copy=False)
print("queued %d frames in %.1fs" % (n, time.time() - t0), flush=True)
# Wait for the refusal of the whole message, or for the broker to close
# the connection (libzmq then reconnects and drops the rest).
mon = s.get_monitor_socket(zmq.EVENT_DISCONNECTED)
poller = zmq.Poller()
poller.register(s, zmq.POLLIN)
poller.register(mon, zmq.POLLIN)
deadline = time.time() + 120
while time.time() < deadline:
    ready = dict(poller.poll(1000))
    if s in ready:
        print("huge reply after %.1fs:" % (time.time() - t0), s.recv_multipart()[3:6], flush=True)
        break
    if mon in ready:
        mon.recv_multipart()
        print("huge: connection closed by the broker after %.1fs" % (time.time() - t0), flush=True)
        break
else:
    print("huge: nothing within 120s", flush=True)
s.disable_monitor()
`

// TestMemoryBoundUnderOneHugeMessage runs `zapgate serve`; an enrolled
// node that may not use proxy sends ONE message of 1,500 frames of 1 MB
// (1.4 GiB) while a legitimate node relays. libzmq shows a message only
// once complete, so without the connection accounting the broker's RSS
// rose by the whole message; with it, the connection is cut once libzmq
// has read max_connection_backlog bytes from it with no message
// delivered, the RSS rise stays under the bound of docs/security.md, the
// cut is audited (broker.drop connection-backlog, OUTSIDER01), and the
// legitimate node keeps relaying.
func TestMemoryBoundUnderOneHugeMessage(t *testing.T) {
	e := memoryServeEnvWith(t, hugeReceiveHWM, os.Getenv("ZAPGATE_TEST_BROKER_EXTRA"))
	cmd, out := e.start(t)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	pid := cmd.Process.Pid
	requester := relayProxy(t, e, "legit", "legit request before the attack", out)
	time.Sleep(500 * time.Millisecond)
	base := vmRSS(t, pid)

	endAttack := duringAttack(t, pid, requester, 5*time.Millisecond, out)

	start := time.Now()
	py := python(t, pyHugeMessage, e.listen, filepath.Join(e.dir, "outsider.key_secret"), filepath.Join(e.dir, "broker.key"),
		strconv.Itoa(hugeFrames), strconv.Itoa(attackFrameSize))
	t.Logf("attacker (%s):\n%s", time.Since(start).Round(time.Millisecond), py)
	peak := endAttack()

	// Bound (docs/security.md, "Memory bound"): L_in = what libzmq may
	// hold for the connection, max_connection_backlog plus what it reads
	// in one check interval and the loop's latency at loopback rate
	// (allowance 64 MiB: 25 ms at 2.5 GB/s), plus the message the broker
	// is reading (max_message_bytes) and allocator and runtime slack.
	const lineRate, slack = 64 * mib, 48 * mib
	backlog := zbroker.MinConnectionBacklog(hugeReceiveHWM, limitMaxFrames, limitMaxBytes)
	bound := backlog + lineRate + limitMaxBytes + slack
	attack := int64(hugeFrames * attackFrameSize)
	rise := peak - base
	t.Logf("VmRSS baseline %d MiB, peak %d MiB, rise %d MiB; bound on the rise %d MiB (max_connection_backlog %d MiB; the message %d MiB)",
		base/mib, peak/mib, rise/mib, bound/mib, backlog/mib, attack/mib)
	if rise > bound {
		t.Errorf("broker RSS rose by %d MiB under one %d MiB message, over the bound of %d MiB", rise/mib, attack/mib, bound/mib)
	}
	if !strings.Contains(py, "first reply") || !strings.Contains(py, "huge: connection closed by the broker") {
		t.Errorf("attacker output:\n%s", py)
	}

	drops := mustRun(t, "audit", "export", "--action", "broker.drop", "--format", "jsonl", filepath.Join(e.dir, "audit"))
	if n := countLines(drops, `"event.reason":"connection-backlog"`, `"user.name":"OUTSIDER01"`, `"event.severity":4`); n != 1 {
		t.Errorf("%d connection-backlog records of OUTSIDER01 with severity warning, want 1:\n%s", n, drops)
	}
	// The legitimate node still relays after the attack.
	if _, err := retryRequest(requester, "proxy", "task.status"); err != nil {
		t.Errorf("legit node after the attack: %v", err)
	}
	// The broker's log, once it has stopped writing it.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	log := out.String()
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "connection cut") {
			t.Log(l)
		}
	}
	if t.Failed() {
		t.Logf("broker log:\n%s", log)
	}
}
