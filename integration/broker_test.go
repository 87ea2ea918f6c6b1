//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	"github.com/zapgate/zapgate/internal/routingid"
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
	"SQUAT01$":  {"nodes"}, // connect only
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
	chain, closeChain := r.chain(t)
	quiet := slog.New(slog.DiscardHandler)
	rids, err := routingid.New()
	if err != nil {
		t.Fatal(err)
	}
	chain.RoutingIDs = rids
	if r.zctx, err = zmq.NewContext(); err != nil {
		t.Fatal(err)
	}
	if r.zap, err = zap.NewServer(r.zctx, authn.New(chain), zap.Config{Properties: authn.Properties(), Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if err := r.zap.Start(); err != nil {
		t.Fatal(err)
	}
	cfg := zbroker.Config{Endpoint: "tcp://127.0.0.1:*", ServerSecret: *r.server.Secret, ZAPDone: r.zap.Done(),
		RoutingIDs: rids, Heartbeat: heartbeat, Recheck: 200 * time.Millisecond}
	if r.b, err = zbroker.New(r.zctx, cfg, authn.NewAuthorizer(chain), authn.AuditRecorder{Log: chain.Audit}, quiet); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.b.Run(context.Background()) }()
	t.Cleanup(func() {
		r.b.Close()
		if err := <-r.done; err != nil {
			t.Errorf("broker Run: %v", err)
		}
		r.zap.Close()
		r.zctx.Term()
		closeChain()
	})
	return r
}

// chain writes keys, registry, directory and policy for relayNodes and
// opens the real components; closeChain closes them.
func (r *relay) chain(t *testing.T) (chain authn.Chain, closeChain func()) {
	t.Helper()
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
	log, err := audit.Open(audit.Options{Dir: r.auditDir, Logger: quiet})
	must(err)
	return authn.Chain{Keys: r.registry, Directory: dir, Policy: pol, Audit: log, Logger: quiet}, func() {
		log.Close()
		r.registry.Close()
		dir.Close()
	}
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
