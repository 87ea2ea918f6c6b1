//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	zbroker "github.com/zapgate/zapgate/broker"
	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/authn"
	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp/static"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// relayPolicy grants the roles the broker tests exercise.
const relayPolicy = `version: 1
revision: "it-broker-1"
roles:
  node:
    connect: {}
  backup-server:
    request:
      - {service: proxy, commands: ["task.*", "mmi.service"]}
      - {service: repository, commands: ["repo.*"]}
    subscribe: ["job.**"]
  proxy:
    serve: [proxy]
    publish: ["job.status.*"]
  repository:
    serve: [repository]
bindings:
  - {group: nodes, roles: [node]}
  - {group: backup, roles: [backup-server]}
  - {group: proxies, roles: [proxy]}
  - {group: repos, roles: [repository]}
`

// relayNodes are the principals, their groups, and their key files.
var relayNodes = map[string][]string{
	"BACKUP01$": {"nodes", "backup"},
	"PROXY01$":  {"nodes", "proxies"},
	"REPO01$":   {"nodes", "repos"},
}

// relay is the broker wired to the real chain: key registry, static
// directory, policy, audit log, ZAP server.
type relay struct {
	dir, regDir, auditDir string
	server                *certs.Cert
	nodes                 map[string]*certs.Cert
	registry              *certs.Registry
	zctx                  *zmq.Context
	zap                   *zap.Server
	b                     *zbroker.Broker
	done                  chan error
}

func startRelay(t *testing.T, heartbeat time.Duration) *relay {
	t.Helper()
	r := &relay{dir: t.TempDir(), nodes: map[string]*certs.Cert{}, done: make(chan error, 1)}
	r.regDir, r.auditDir = filepath.Join(r.dir, "registry"), filepath.Join(r.dir, "audit")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(r.regDir, 0o755))
	var err error
	r.server, err = certs.NewCert()
	must(err)
	_, _, err = r.server.Save(r.dir, "broker")
	must(err)
	dirDoc := "version: 1\nprincipals:\n"
	for name, groups := range relayNodes {
		c, err := certs.NewCert()
		must(err)
		pubPath, _, err := c.Save(r.dir, strings.TrimSuffix(strings.ToLower(name), "$"))
		must(err)
		_, err = certs.AddCert(r.regDir, pubPath, name, certs.AddOptions{})
		must(err)
		r.nodes[name] = c
		dirDoc += fmt.Sprintf("  %q: {groups: [%s]}\n", name, strings.Join(groups, ", "))
	}
	must(os.WriteFile(filepath.Join(r.dir, "directory.yaml"), []byte(dirDoc), 0o644))
	quiet := slog.New(slog.DiscardHandler)
	r.registry, err = certs.Open(r.regDir, certs.Options{Logger: quiet, Debounce: 20 * time.Millisecond})
	must(err)
	must(r.registry.Start())
	dir, err := static.Open(filepath.Join(r.dir, "directory.yaml"), static.Options{Logger: quiet})
	must(err)
	pol, err := policy.Parse("policy.yaml", []byte(relayPolicy))
	must(err)
	log, err := audit.Open(audit.Options{Dir: r.auditDir})
	must(err)
	chain := authn.Chain{Keys: r.registry, Directory: dir, Policy: pol, Audit: log, Logger: quiet}

	r.zctx, err = zmq.NewContext()
	must(err)
	r.zap, err = zap.NewServer(r.zctx, authn.New(chain), zap.Config{Properties: authn.Properties(), Logger: quiet})
	must(err)
	must(r.zap.Start())
	cfg := zbroker.Config{Endpoint: "tcp://127.0.0.1:*", ServerSecret: *r.server.Secret, ZAPDone: r.zap.Done(),
		Heartbeat: heartbeat, Recheck: 200 * time.Millisecond}
	r.b, err = zbroker.New(r.zctx, cfg, authn.NewAuthorizer(chain), authn.AuditRecorder{Log: log}, quiet)
	must(err)
	go func() { r.done <- r.b.Run(context.Background()) }()
	t.Cleanup(func() {
		r.b.Close()
		if err := <-r.done; err != nil {
			t.Errorf("broker Run: %v", err)
		}
		r.zap.Close()
		r.zctx.Term()
		log.Close()
		r.registry.Close()
		dir.Close()
	})
	return r
}

// node returns a client library Client for principal.
func (r *relay) node(t *testing.T, principal string) *client.Client {
	t.Helper()
	c := r.nodes[principal]
	cl, err := client.New(client.Config{Endpoint: r.b.Endpoint(), ServerKey: r.server.Public,
		PublicKey: c.Public, SecretKey: *c.Secret, Heartbeat: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// certFiles returns the secret certificate of principal and the broker's
// public certificate, as pyzmq loads them.
func (r *relay) certFiles(principal string) (string, string) {
	base := strings.TrimSuffix(strings.ToLower(principal), "$")
	return filepath.Join(r.dir, base+".key_secret"), filepath.Join(r.dir, "broker.key")
}

// audited reports whether the audit log holds a record with all of the
// given substrings on one line.
func (r *relay) audited(t *testing.T, parts ...string) bool {
	t.Helper()
	var found bool
	filepath.WalkDir(r.auditDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(data), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			found = found || ok
		}
		return nil
	})
	return found
}

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

func serveEcho(t *testing.T, cl *client.Client, service string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl.Serve(ctx, service, func(_ context.Context, cmd string, p [][]byte) ([][]byte, error) {
			return append([][]byte{[]byte("ok:" + cmd)}, p...), nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitWorker retries a request until a worker has registered.
func waitWorker(t *testing.T, cl *client.Client, service, command string) [][]byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		reply, err := cl.Request(ctx, service, command)
		cancel()
		if err == nil {
			return reply
		}
		if !errors.Is(err, client.ErrNoWorker) || time.Now().After(deadline) {
			t.Fatalf("%s %s: %v", service, command, err)
		}
	}
}

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

func TestBrokerRevocationEndToEnd(t *testing.T) {
	r := startRelay(t, 500*time.Millisecond)
	proxy := r.node(t, "PROXY01$")
	serveEcho(t, proxy, "proxy")
	backup := r.node(t, "BACKUP01$")
	waitWorker(t, backup, "proxy", "task.warm")

	// Revoking the client's key: its next request is refused within a
	// second.
	if _, _, err := certs.Revoke(r.regDir, "BACKUP01$"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := backup.Request(ctx, "proxy", "task.start")
		cancel()
		if errors.Is(err, client.ErrForbidden) {
			break
		}
		if err != nil || time.Since(start) > time.Second {
			t.Fatalf("after revocation (%s): %v", time.Since(start), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("client refused %s after its key was revoked", time.Since(start))

	// Revoking the worker's key: it is disconnected within a second.
	before := r.b.Stats().WorkersRevoked
	if _, _, err := certs.Revoke(r.regDir, "PROXY01$"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for r.b.Stats().WorkersRevoked == before {
		if time.Since(start) > time.Second {
			t.Fatal("revoked worker still registered after 1s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("worker disconnected %s after its key was revoked", time.Since(start))
	if !r.audited(t, `"authz.serve"`, `"failure"`, `"PROXY01$"`, "identity:key-revoked") {
		t.Error("worker revocation not audited")
	}
}

func TestBrokerEventsEndToEnd(t *testing.T) {
	r := startRelay(t, 500*time.Millisecond)
	proxy, backup := r.node(t, "PROXY01$"), r.node(t, "BACKUP01$")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The policy grants subscribe "job.**"; the engine decides whether
	// the requested pattern is covered (subsumption).
	events, err := backup.Subscribe(ctx, "job.status.*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Subscribe(ctx, "**"); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("pattern wider than the grant: %v", err)
	}
	if _, err := proxy.Subscribe(ctx, "job.status.*"); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("proxy subscribing: %v", err)
	}
	if err := proxy.Publish(ctx, "job.status.PROXY01", []byte("running")); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Publisher != "PROXY01$" || string(ev.Payload[0]) != "running" {
			t.Fatalf("event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
	if err := backup.Publish(ctx, "job.status.PROXY01", []byte("forged")); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("backup server publishing: %v", err)
	}
	if !r.audited(t, `"authz.publish"`, `"success"`, `"PROXY01$"`, `"job.status.PROXY01"`) {
		t.Error("publication not audited")
	}
}
