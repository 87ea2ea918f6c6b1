//go:build integration

package integration

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/client"
)

// pyRoutingNode is a pyzmq DEALER over CURVE that asks for a routing id
// of its choosing. As "worker" it sends READY for a service, prints
// "ready" and exits without DISCONNECT (a crash) once stdin closes. As
// "squatter" it sends nothing and prints every message it receives for a
// few seconds, then "done".
const pyRoutingNode = `
import sys, time, zmq, zmq.auth
endpoint, secret, server, rid, role = sys.argv[1:6]
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.linger = 0
s.routing_id = rid.encode()
s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(secret)
s.curve_serverkey, _ = zmq.auth.load_certificate(server)
s.connect(endpoint)
if role == "worker":
    s.send_multipart([b"", b"MDPW01", b"\x01", sys.argv[6].encode()])
    print("ready", flush=True)
    sys.stdin.read()
    sys.exit(0)
print("listening", flush=True)
deadline = time.time() + float(sys.argv[6])
while time.time() < deadline:
    if s.poll(100):
        f = s.recv_multipart()
        if not (len(f) == 3 and f[1] == b"MDPW01" and f[2] == b"\x04"):
            print("received", f, flush=True)
print("done", flush=True)
`

// A node with nothing but connect permission asks for the routing id a
// crashed worker used: with the real chain (authn mints the routing id in
// the ZAP reply), the task meant for the worker reaches no one.
func TestBrokerRoutingIDTakeover(t *testing.T) {
	r := startRelay(t, 5*time.Second) // the crash is noticed late
	secret, server := r.certFiles("PROXY01$")
	worker := exec.Command("/usr/bin/python3", "-c", pyRoutingNode, r.b.Endpoint(), secret, server, "proxy-1", "worker", "proxy")
	stdin, err := worker.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var wout strings.Builder
	worker.Stdout, worker.Stderr = &wout, &wout
	if err := worker.Start(); err != nil {
		t.Fatalf("python3: %v (run make deps)", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !r.audited(t, `"authz.serve"`, `"success"`, `"PROXY01$"`) {
		if time.Now().After(deadline) {
			t.Fatalf("worker did not register:\n%s", wout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stdin.Close() // crash
	if err := worker.Wait(); err != nil {
		t.Fatalf("python worker: %v\n%s", err, wout.String())
	}

	secret, server = r.certFiles("SQUAT01$")
	squatter := exec.Command("/usr/bin/python3", "-c", pyRoutingNode, r.b.Endpoint(), secret, server, "proxy-1", "squatter", "4")
	var sout strings.Builder
	squatter.Stdout, squatter.Stderr = &sout, &sout
	if err := squatter.Start(); err != nil {
		t.Fatalf("python3: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // connected
	backup := r.node(t, "BACKUP01$")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = backup.Request(ctx, "proxy", "task.start", []byte("job-7"))
	if !errors.Is(err, client.ErrNoWorker) && !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("request: %v, want a refusal (no live worker)", err)
	}
	if err := squatter.Wait(); err != nil {
		t.Fatalf("python squatter: %v\n%s", err, sout.String())
	}
	if out := sout.String(); strings.Contains(out, "received") || !strings.Contains(out, "done") {
		t.Fatalf("squatter:\n%s", out)
	}
}
