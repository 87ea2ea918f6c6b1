//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/authn"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp/static"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// pyClient connects a pyzmq CURVE DEALER with the given certificate files,
// sends one request and prints "reply ..." or "noreply".
const pyClient = `
import sys, zmq, zmq.auth
endpoint, client_secret, server_public = sys.argv[1:4]
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.linger = 0
pub, sec = zmq.auth.load_certificate(client_secret)
spub, _ = zmq.auth.load_certificate(server_public)
s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, spub
s.connect(endpoint)
s.send_multipart([b"task.status", b"hello"])
if s.poll(3000):
    print("reply", b"/".join(s.recv_multipart()).decode())
else:
    print("noreply")
s.close()
ctx.term()
`

// broker is a minimal CURVE ROUTER behind zapgate's ZAP server, for tests.
type broker struct {
	ctx      *zmq.Context
	zap      *zap.Server
	router   *zmq.Socket
	monitor  *zmq.Socket
	endpoint string
}

// testChain is an authentication chain over registry, a static directory
// where every principal in members is enabled in group "nodes", a policy
// that lets "nodes" connect, and an audit log in dir.
func testChain(t *testing.T, dir string, registry *certs.Registry, members ...string) authn.Chain {
	t.Helper()
	doc := "version: 1\nprincipals:\n"
	for _, m := range members {
		doc += fmt.Sprintf("  %q: {groups: [nodes]}\n", m)
	}
	path := filepath.Join(dir, "directory.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := static.Open(path, static.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse("policy.yaml", []byte("version: 1\nroles:\n  node:\n    connect: {}\nbindings:\n  - {group: nodes, roles: [node]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(audit.Options{Dir: filepath.Join(dir, "audit")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return authn.Chain{Keys: registry, Directory: d, Policy: pol, Audit: log}
}

func startBroker(t *testing.T, chain authn.Chain, serverSecret string) *broker {
	t.Helper()
	sec, err := certs.LoadSecret(serverSecret)
	if err != nil {
		t.Fatal(err)
	}
	b := &broker{}
	if b.ctx, err = zmq.NewContext(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	b.zap, err = zap.NewServer(b.ctx, authn.New(chain), zap.Config{Properties: authn.Properties()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.zap.Start(); err != nil {
		t.Fatal(err)
	}
	if b.router, err = b.ctx.NewSocket(zmq.ROUTER); err != nil {
		t.Fatal(err)
	}
	b.router.SetLinger(0)
	b.router.SetCurveServer(1)
	b.router.SetCurveSecretkey(string(sec.Secret[:]))
	if err := b.router.Monitor("inproc://it-monitor", zmq.EVENT_HANDSHAKE_SUCCEEDED|zmq.EVENT_HANDSHAKE_FAILED_AUTH); err != nil {
		t.Fatal(err)
	}
	if b.monitor, err = b.ctx.NewSocket(zmq.PAIR); err != nil {
		t.Fatal(err)
	}
	b.monitor.SetLinger(0)
	if err := b.monitor.Connect("inproc://it-monitor"); err != nil {
		t.Fatal(err)
	}
	if err := b.router.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	b.endpoint, _ = b.router.GetLastEndpoint()
	return b
}

func (b *broker) close() {
	// Stop the monitor and drain it before closing anything: libzmq sends
	// monitor events with a blocking send from its I/O thread, so closing
	// the reading end first can freeze the context.
	if b.router != nil && b.monitor != nil {
		b.router.Monitor("", 0)
		b.monitor.SetRcvtimeo(2 * time.Second)
		for {
			ev, _, _, err := b.monitor.RecvEvent(0)
			if err != nil || ev == zmq.EVENT_MONITOR_STOPPED {
				break
			}
		}
	}
	for _, s := range []*zmq.Socket{b.router, b.monitor} {
		if s != nil {
			s.Close()
		}
	}
	if b.zap != nil {
		b.zap.Close()
	}
	b.ctx.Term()
}

// nextEvent waits up to 5 s for a handshake event.
func (b *broker) nextEvent(t *testing.T) zmq.Event {
	t.Helper()
	p := zmq.NewPoller()
	p.Add(b.monitor, zmq.POLLIN)
	if ready, _ := p.Poll(5 * time.Second); len(ready) == 0 {
		t.Fatal("no handshake event within 5s")
	}
	ev, _, _, err := b.monitor.RecvEvent(0)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestPyzmqNodeThroughZAP(t *testing.T) {
	dir := t.TempDir()
	python(t, `import sys, zmq.auth
zmq.auth.create_certificates(sys.argv[1], "node")
zmq.auth.create_certificates(sys.argv[1], "stranger")`, dir)
	mustRun(t, "keygen", "broker", "--dir", dir)
	regDir := filepath.Join(dir, "registry")
	if err := os.Mkdir(regDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "keys", "add", filepath.Join(dir, "node.key"), "--principal", "REPO01$", "--registry", regDir)
	registry, err := certs.Open(regDir, certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { registry.Close() })
	b := startBroker(t, testChain(t, dir, registry, "REPO01$"), filepath.Join(dir, "broker.key_secret"))

	client := func(name string) *exec.Cmd {
		cmd := exec.Command("/usr/bin/python3", "-c", pyClient, b.endpoint,
			filepath.Join(dir, name+".key_secret"), filepath.Join(dir, "broker.key"))
		return cmd
	}

	t.Run("enrolled pyzmq node is accepted with its principal", func(t *testing.T) {
		cmd := client("node")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if ev := b.nextEvent(t); ev != zmq.EVENT_HANDSHAKE_SUCCEEDED {
			t.Fatalf("event %v", ev)
		}
		p := zmq.NewPoller()
		p.Add(b.router, zmq.POLLIN)
		if ready, _ := p.Poll(5 * time.Second); len(ready) == 0 {
			t.Fatal("no message from the accepted node")
		}
		// Metadata is read from a body frame: libzmq 4.3.4 drops it from
		// the routing-id frame of a message prefetched by poll.
		id, err := b.router.RecvBytes(0)
		if err != nil {
			t.Fatal(err)
		}
		_, props, err := b.router.RecvMessageWithMetadata(0, "User-Id", authn.PropKey)
		if err != nil {
			t.Fatal(err)
		}
		if props["User-Id"] != "REPO01$" {
			t.Errorf("User-Id = %q", props["User-Id"])
		}
		if _, err := b.router.SendMessage(id, "ok"); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("client: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "reply ok") {
			t.Fatalf("client output: %s", out.String())
		}
	})

	t.Run("stranger is refused and nothing is delivered", func(t *testing.T) {
		out, err := client("stranger").CombinedOutput()
		if err != nil {
			t.Fatalf("client: %v\n%s", err, out)
		}
		if ev := b.nextEvent(t); ev != zmq.EVENT_HANDSHAKE_FAILED_AUTH {
			t.Fatalf("event %v, want HANDSHAKE_FAILED_AUTH", ev)
		}
		if !strings.Contains(string(out), "noreply") {
			t.Fatalf("client output: %s", out)
		}
		p := zmq.NewPoller()
		p.Add(b.router, zmq.POLLIN)
		if ready, _ := p.Poll(200 * time.Millisecond); len(ready) != 0 {
			t.Fatal("a refused node's message was delivered")
		}
	})

	t.Run("revoked by the CLI, refused at the next handshake", func(t *testing.T) {
		mustRun(t, "keys", "revoke", "REPO01$", "--registry", regDir)
		out, err := client("node").CombinedOutput()
		if err != nil {
			t.Fatalf("client: %v\n%s", err, out)
		}
		if ev := b.nextEvent(t); ev != zmq.EVENT_HANDSHAKE_FAILED_AUTH {
			t.Fatalf("event %v, want HANDSHAKE_FAILED_AUTH", ev)
		}
		if !strings.Contains(string(out), "noreply") {
			t.Fatalf("client output: %s", out)
		}
	})
}
