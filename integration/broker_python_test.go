//go:build integration

package integration

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// pyMajordomoClient is a zguide-style Majordomo client on a REQ socket
// over CURVE: plain MDPC01 frames, nothing zapgate-specific. Each argument
// after the three paths is one request, frames separated by "|"; it prints
// each reply's frames joined by "/".
const pyMajordomoClient = `
import sys, zmq, zmq.auth
endpoint, secret, server = sys.argv[1:4]
ctx = zmq.Context()
s = ctx.socket(zmq.REQ)
s.linger = 0
s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(secret)
s.curve_serverkey, _ = zmq.auth.load_certificate(server)
s.connect(endpoint)
for req in sys.argv[4:]:
    s.send_multipart([b"MDPC01"] + [p.encode() for p in req.split("|")])
    if not s.poll(5000):
        print("timeout")
        break
    print("/".join(f.decode("utf-8", "replace") for f in s.recv_multipart()))
s.close()
ctx.term()
`

// pyMajordomoWorker is a zguide-style Majordomo worker on a DEALER: READY,
// heartbeats, REQUEST → REPLY "py:" + command. It prints "disconnected"
// on DISCONNECT, else "served N" after N requests.
const pyMajordomoWorker = `
import sys, time, zmq, zmq.auth
endpoint, secret, server, service, count, hb = sys.argv[1:7]
count, hb = int(count), float(hb)
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.linger = 0
s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(secret)
s.curve_serverkey, _ = zmq.auth.load_certificate(server)
s.connect(endpoint)
s.send_multipart([b"", b"MDPW01", b"\x01", service.encode()])
print("ready", flush=True)
served, beat, deadline = 0, time.time(), time.time() + 20
while served < count and time.time() < deadline:
    if s.poll(int(hb * 1000)):
        f = s.recv_multipart()
        if f[2] == b"\x02":
            s.send_multipart([b"", b"MDPW01", b"\x03", f[3], b"", b"py:" + f[5]] + f[6:])
            served += 1
        elif f[2] == b"\x05":
            print("disconnected")
            sys.exit(0)
    if time.time() - beat > hb:
        s.send_multipart([b"", b"MDPW01", b"\x04"])
        beat = time.time()
print("served", served)
`

func TestBrokerPythonMajordomoClient(t *testing.T) {
	r := startRelay(t, 500*time.Millisecond)
	proxy := r.node(t, "PROXY01$")
	serveEcho(t, proxy, "proxy")
	waitWorker(t, r.node(t, "BACKUP01$"), "proxy", "task.warm")

	secret, server := r.certFiles("BACKUP01$")
	out := python(t, pyMajordomoClient, r.b.Endpoint(), secret, server,
		"proxy|task.start|job-7", "proxy|repo.delete", "mmi.service|proxy", "mmi.service|repository", "mmi.workers|proxy")
	want := []string{
		"MDPC01/proxy/ok:task.start/job-7",
		`MDPC01/proxy/zapgate.error/403/forbidden/request service "proxy" command "repo.delete"`,
		"MDPC01/mmi.service/200",
		"MDPC01/mmi.service/404", // may request, but no worker
		"MDPC01/mmi.workers/501",
	}
	if got := strings.Split(strings.TrimSpace(out), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("python client got\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
	for _, parts := range [][]string{
		{`"authz.request"`, `"success"`, `"BACKUP01$"`, `"task.start"`, `"it-broker-1"`},
		{`"authz.request"`, `"failure"`, `"BACKUP01$"`, `"repo.delete"`},
		{`"authz.reply"`, `"success"`, `"PROXY01$"`},
	} {
		if !r.audited(t, parts...) {
			t.Errorf("no audit record with %q", parts)
		}
	}
}

func TestBrokerPythonMajordomoWorker(t *testing.T) {
	r := startRelay(t, 500*time.Millisecond)
	secret, server := r.certFiles("REPO01$")
	cmd := exec.Command("/usr/bin/python3", "-c", pyMajordomoWorker, r.b.Endpoint(), secret, server, "repository", "2", "0.5")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("python3: %v (run make deps)", err)
	}
	backup := r.node(t, "BACKUP01$")
	for _, c := range []string{"repo.list", "repo.stats"} {
		if reply := waitWorker(t, backup, "repository", c); string(reply[0]) != "py:"+c {
			t.Fatalf("reply %q", reply)
		}
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "served 2") {
		t.Fatalf("python worker: %v\n%s", err, out.String())
	}

	// A proxy may not register as a repository: DISCONNECT.
	secret, server = r.certFiles("PROXY01$")
	got := python(t, pyMajordomoWorker, r.b.Endpoint(), secret, server, "repository", "1", "0.5")
	if !strings.Contains(got, "disconnected") {
		t.Fatalf("wrong-role worker: %s", got)
	}
	if !r.audited(t, `"authz.serve"`, `"failure"`, `"PROXY01$"`, `"repository"`) {
		t.Error("refused registration not audited")
	}
}
