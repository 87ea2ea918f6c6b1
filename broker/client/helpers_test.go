package client_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker"
	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/internal/routingid"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

const beat = 100 * time.Millisecond

// env is a broker behind a real ZAP server, with a table of keys and
// grants the tests change while it runs.
type env struct {
	t        *testing.T
	zctx     *zmq.Context
	zap      *zap.Server
	srvPub   certs.PublicKey
	srvSec   certs.SecretKey
	endpoint string

	mu      sync.Mutex
	keys    map[certs.PublicKey]string
	grants  map[string][]string // principal → "kind name [command]" patterns
	revoked map[string]bool     // Z85 key
	rids    *routingid.Minter
	// unminted counts, per principal, the next handshakes answered without
	// a routing id (as when libzmq's handshake race is lost).
	unminted map[string]int

	b    *broker.Broker
	done chan struct{}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, keys: map[certs.PublicKey]string{}, grants: map[string][]string{}, revoked: map[string]bool{},
		unminted: map[string]int{}}
	var err error
	if e.rids, err = routingid.New(); err != nil {
		t.Fatal(err)
	}
	if e.zctx, err = zmq.NewContext(); err != nil {
		t.Fatal(err)
	}
	e.srvPub, e.srvSec, _ = certs.GenerateKeypair()
	e.zap, err = zap.NewServer(e.zctx, zap.AuthenticatorFunc(e.authenticate),
		zap.Config{Properties: []string{"X-Zapgate-Key", "X-Zapgate-Roles"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.zap.Start(); err != nil {
		t.Fatal(err)
	}
	e.endpoint = "tcp://127.0.0.1:*"
	e.start()
	t.Cleanup(func() {
		e.stop()
		e.zap.Close()
		e.zctx.Term()
	})
	return e
}

// start runs a broker on e.endpoint (the same port again after stop).
func (e *env) start() {
	e.t.Helper()
	cfg := broker.Config{Endpoint: e.endpoint, ServerSecret: e.srvSec, RoutingIDs: e.rids, Heartbeat: beat, Recheck: beat,
		NoWorkerWait: 500 * time.Millisecond, DrainTimeout: time.Second}
	var err error
	for range 50 { // the port may take a moment to free after a restart
		log := slog.New(slog.NewTextHandler(testWriter{e.t, "broker"}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if e.b, err = broker.New(e.zctx, cfg, e, e, log); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.endpoint = e.b.Endpoint()
	e.done = make(chan struct{})
	go func() { defer close(e.done); e.b.Run(context.Background()) }()
}

func (e *env) stop() {
	if e.b != nil {
		e.b.Close()
		<-e.done
		e.b = nil
	}
}

func (e *env) authenticate(_ context.Context, req *zap.Request) (zap.Result, error) {
	raw, _ := req.CurveKey()
	e.mu.Lock()
	principal, ok := e.keys[raw]
	e.mu.Unlock()
	if !ok {
		return zap.Result{Status: zap.StatusDenied, StatusText: "unknown-key"}, nil
	}
	key := certs.PublicKey(raw).String()
	res := zap.Result{Status: zap.StatusOK, UserID: principal,
		Properties: map[string]string{"X-Zapgate-Key": key, "X-Zapgate-Roles": ""}}
	e.mu.Lock()
	skip := e.unminted[principal] > 0
	if skip {
		e.unminted[principal]--
	}
	e.mu.Unlock()
	if skip {
		return res, nil
	}
	rid, err := e.rids.Mint(key, principal)
	if err != nil {
		return zap.Result{}, err
	}
	res.RoutingID = rid
	return res, nil
}

// Authorize implements broker.Authorizer from the grant table.
func (e *env) Authorize(_ context.Context, p broker.Peer, a policy.Action) (policy.Decision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.revoked[p.Key] {
		return policy.Decision{Rule: policy.Rule{ID: "identity:key-revoked"}}, nil
	}
	for _, g := range e.grants[p.UserID] {
		f := strings.Fields(g)
		if f[0] != a.Kind.String() {
			continue
		}
		ok := false
		switch a.Kind {
		case policy.Serve:
			ok = f[1] == a.Service
		case policy.Request:
			ok = f[1] == a.Service && mdp.MatchTopic(f[2], a.Command)
		case policy.Publish:
			ok = mdp.MatchTopic(f[1], a.Topic)
		case policy.Subscribe:
			ok = f[1] == a.Topic || (!strings.Contains(a.Topic, "*") && mdp.MatchTopic(f[1], a.Topic))
		}
		if ok {
			return policy.Decision{Allow: true, Rule: policy.Rule{ID: g}}, nil
		}
	}
	return policy.Decision{Rule: policy.Rule{ID: "default-deny"}}, nil
}

// Record implements broker.Recorder (events are not kept).
func (e *env) Record(context.Context, broker.Event) error { return nil }

func (e *env) grant(principal string, rules ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.grants[principal] = append(e.grants[principal], rules...)
}

func (e *env) revoke(k certs.PublicKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.revoked[k.String()] = true
}

// node returns a Client for a newly enrolled principal (unless enroll is
// false), closed at cleanup.
func (e *env) node(principal string, enroll bool) (*client.Client, certs.PublicKey) {
	e.t.Helper()
	pub, sec, _ := certs.GenerateKeypair()
	if enroll {
		e.mu.Lock()
		e.keys[pub] = principal
		e.mu.Unlock()
	}
	c, err := client.New(client.Config{Endpoint: e.endpoint, ServerKey: e.srvPub, PublicKey: pub, SecretKey: sec,
		Heartbeat: beat, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(testWriter{e.t, principal}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c, pub
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func strs(frames [][]byte) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = string(f)
	}
	return out
}

// testWriter sends log lines to the test log.
type testWriter struct {
	t    *testing.T
	name string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimSpace(string(p)))
	return len(p), nil
}
