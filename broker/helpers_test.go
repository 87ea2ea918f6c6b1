package broker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/internal/routingid"
	"github.com/zapgate/zapgate/zap"
)

// testConfig has short timers so liveness tests run in well under a
// second each.
func testConfig() Config {
	return Config{
		Endpoint:     "tcp://127.0.0.1:*",
		Heartbeat:    100 * time.Millisecond,
		Liveness:     3,
		Recheck:      100 * time.Millisecond,
		NoWorkerWait: 300 * time.Millisecond,
		DrainTimeout: 2 * time.Second,
	}
}

// env is a broker behind a real zap.Server on 127.0.0.1, with an
// in-test authenticator, authorizer and recorder.
type env struct {
	t      testing.TB
	zctx   *zmq.Context
	nodes  *keyTable
	authz  *tableAuthz
	rec    *memRecorder
	zap    *zap.Server
	broker *Broker
	server certs.PublicKey
	logs   *syncBuffer
	runErr chan error
	cancel context.CancelFunc
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	e := &env{t: t, nodes: newKeyTable(), authz: newTableAuthz(), rec: &memRecorder{},
		logs: &syncBuffer{}, runErr: make(chan error, 1)}
	var err error
	if e.zctx, err = zmq.NewContext(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	e.zap, err = zap.NewServer(e.zctx, zap.AuthenticatorFunc(e.nodes.authenticate),
		zap.Config{Properties: []string{propKey, "X-Zapgate-Roles"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.zap.Start(); err != nil {
		t.Fatal(err)
	}
	pub, sec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	e.server = pub
	cfg.ServerSecret = sec
	cfg.ZAPDone = e.zap.Done()
	cfg.RoutingIDs = e.nodes.minter
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if e.broker, err = New(e.zctx, cfg, e.authz, e.rec, log); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.runErr <- e.broker.Run(ctx) }()
	return e
}

// close stops everything in libzmq's order: broker, nodes, ZAP, context.
func (e *env) close() {
	if e.broker != nil {
		done := make(chan struct{})
		go func() { e.broker.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			e.t.Error("broker close hung")
		}
	}
	e.nodes.closeAll()
	if e.zap != nil {
		e.zap.Close()
	}
	if e.t.Failed() {
		e.t.Logf("broker log:\n%s", e.logs.String())
	}
	term := make(chan struct{})
	go func() { e.zctx.Term(); close(term) }()
	select {
	case <-term:
	case <-time.After(10 * time.Second):
		e.t.Error("context term hung")
	}
}

// keyTable is the in-test authenticator: CURVE key → principal, with the
// properties authn sets and a routing id minted per connection, as authn
// does. Keys in unminted get no routing id (the ZAP reply leaves the
// peer's own), to test that the broker drops their messages.
type keyTable struct {
	mu       sync.Mutex
	keys     map[[32]byte]string
	unminted map[[32]byte]bool
	minted   map[[32]byte][]string // routing ids minted per key, oldest first
	secrets  map[[32]byte]certs.SecretKey
	minter   *routingid.Minter
	socks    []*zmq.Socket
}

func newKeyTable() *keyTable {
	m, err := routingid.New()
	if err != nil {
		panic(err)
	}
	return &keyTable{keys: map[[32]byte]string{}, unminted: map[[32]byte]bool{}, minted: map[[32]byte][]string{},
		secrets: map[[32]byte]certs.SecretKey{}, minter: m}
}

func (k *keyTable) authenticate(_ context.Context, req *zap.Request) (zap.Result, error) {
	raw, ok := req.CurveKey()
	if !ok {
		return zap.Result{Status: zap.StatusDenied, StatusText: "mechanism-not-allowed"}, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	principal, ok := k.keys[raw]
	if !ok {
		return zap.Result{Status: zap.StatusDenied, StatusText: "unknown-key"}, nil
	}
	key := certs.PublicKey(raw).String()
	res := zap.Result{Status: zap.StatusOK, UserID: principal,
		Properties: map[string]string{propKey: key, "X-Zapgate-Roles": ""}}
	if !k.unminted[raw] {
		rid, err := k.minter.Mint(key, principal)
		if err != nil {
			return zap.Result{}, err
		}
		res.RoutingID = rid
		k.minted[raw] = append(k.minted[raw], rid)
	}
	return res, nil
}

// routingIDs returns the routing ids minted for key so far.
func (k *keyTable) routingIDs(key certs.PublicKey) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.minted[key]...)
}

func (k *keyTable) closeAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range k.socks {
		s.Close()
	}
	k.socks = nil
}

// node is a raw MDP peer on a CURVE DEALER, used from one goroutine.
type node struct {
	t    testing.TB
	name string
	key  certs.PublicKey
	sock *zmq.Socket
}

// dial enrolls a new key for principal and connects a DEALER with it.
func (e *env) dial(principal string, opts ...func(*zmq.Socket)) *node {
	e.t.Helper()
	pub, sec := e.nodes.enroll(principal)
	return e.dialKey(principal, pub, sec, opts...)
}

// enroll binds a new keypair to principal.
func (k *keyTable) enroll(principal string) (certs.PublicKey, certs.SecretKey) {
	pub, sec, err := certs.GenerateKeypair()
	if err != nil {
		panic(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[pub] = principal
	k.secrets[pub] = sec
	return pub, sec
}

// secret returns the secret key of an enrolled public key.
func (k *keyTable) secret(pub certs.PublicKey) certs.SecretKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.secrets[pub]
}

func (e *env) dialKey(principal string, pub certs.PublicKey, sec certs.SecretKey, opts ...func(*zmq.Socket)) *node {
	e.t.Helper()
	return e.dialTo(e.broker.Endpoint(), principal, pub, sec, opts...)
}

// dialTo connects a DEALER with the given key to endpoint.
func (e *env) dialTo(endpoint, principal string, pub certs.PublicKey, sec certs.SecretKey, opts ...func(*zmq.Socket)) *node {
	e.t.Helper()
	s, err := e.zctx.NewSocket(zmq.DEALER)
	if err != nil {
		e.t.Fatal(err)
	}
	e.nodes.mu.Lock()
	e.nodes.socks = append(e.nodes.socks, s)
	e.nodes.mu.Unlock()
	must(e.t, s.SetLinger(0))
	must(e.t, s.ClientAuthCurve(e.server.String(), pub.String(), sec.Z85()))
	for _, o := range opts {
		o(s)
	}
	must(e.t, s.Connect(endpoint))
	return &node{t: e.t, name: principal, key: pub, sock: s}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (n *node) send(frames ...[]byte) {
	n.t.Helper()
	if _, err := n.sock.SendMessage(frames); err != nil {
		n.t.Fatalf("%s: send: %v", n.name, err)
	}
}

func bs(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

// request sends an MDPC01 request.
func (n *node) request(service string, body ...string) {
	n.t.Helper()
	n.send(append(bs("", mdp.ClientHeader, service), bs(body...)...)...)
}

// recv waits up to d for a message.
func (n *node) recv(d time.Duration) ([][]byte, error) {
	p := zmq.NewPoller()
	p.Add(n.sock, zmq.POLLIN)
	ready, err := p.Poll(d)
	if err != nil {
		return nil, err
	}
	if len(ready) == 0 {
		return nil, errTimeout
	}
	return n.sock.RecvMessageBytes(0)
}

var errTimeout = errors.New("timeout")

// reply waits for an MDPC01 message on service and returns its body.
func (n *node) reply(service string) []string {
	n.t.Helper()
	msg, err := n.recv(3 * time.Second)
	if err != nil {
		n.t.Fatalf("%s: waiting for a reply on %s: %v", n.name, service, err)
	}
	if len(msg) < 3 || len(msg[0]) != 0 || string(msg[1]) != mdp.ClientHeader || string(msg[2]) != service {
		n.t.Fatalf("%s: want an MDPC01 reply on %s, got %q", n.name, service, msg)
	}
	out := make([]string, len(msg)-3)
	for i, f := range msg[3:] {
		out[i] = string(f)
	}
	return out
}

// refusal waits for a refusal on service and returns it.
func (n *node) refusal(service string) mdp.Refusal {
	n.t.Helper()
	body := n.reply(service)
	r, ok := mdp.ParseRefusal(bs(body...))
	if !ok {
		n.t.Fatalf("%s: want a refusal on %s, got %q", n.name, service, body)
	}
	return r
}

// ready registers as a worker for service.
func (n *node) ready(service string) {
	n.t.Helper()
	n.send(mdp.WorkerReady(service)...)
}

// command waits for an MDPW01 command other than HEARTBEAT and returns
// the frames after the command byte.
func (n *node) command(want mdp.Command, d time.Duration) [][]byte {
	n.t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg, err := n.recv(time.Until(deadline))
		if err != nil {
			n.t.Fatalf("%s: waiting for %s: %v", n.name, want, err)
		}
		if len(msg) < 3 || string(msg[1]) != mdp.WorkerHeader || len(msg[2]) != 1 {
			n.t.Fatalf("%s: want MDPW01 %s, got %q", n.name, want, msg)
		}
		c := mdp.Command(msg[2][0])
		if c == mdp.Heartbeat && want != mdp.Heartbeat {
			continue
		}
		if c != want {
			n.t.Fatalf("%s: want %s, got %s %q", n.name, want, c, msg[3:])
		}
		return msg[3:]
	}
}

// serveOne waits for a REQUEST and returns its address and body.
func (n *node) serveOne() ([]byte, []string) {
	n.t.Helper()
	rest := n.command(mdp.Request, 3*time.Second)
	if len(rest) < 2 || len(rest[1]) != 0 {
		n.t.Fatalf("%s: malformed REQUEST %q", n.name, rest)
	}
	body := make([]string, len(rest)-2)
	for i, f := range rest[2:] {
		body[i] = string(f)
	}
	return rest[0], body
}

func (n *node) replyTo(addr []byte, body ...string) {
	n.t.Helper()
	n.send(mdp.WorkerReply(addr, bs(body...)...)...)
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
