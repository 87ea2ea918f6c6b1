//go:build integration

package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	zmq "github.com/pebbe/zmq4"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/authn"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/cache"
	zldap "github.com/zapgate/zapgate/idp/ldap"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// Directory benchmark: 200 concurrent first CURVE handshakes from 20
// principals (10 keys each), authenticated by zapgate's chain (key registry
// → Samba AD over LDAPS → policy → durable audit), measured three ways in
// one run:
//
//   - cold: a fresh cache; the cache joins concurrent lookups of one
//     principal, so the directory sees one query per principal (goal 20);
//   - warm: the same 200 handshakes again, answered from the cache (0);
//   - nocache: the same 200 handshakes with the cache disabled (200).
//
// A handshake counts once the client's first message comes back through
// the CURVE ROUTER, i.e. the connection was accepted. Run it with
//
//	go test -tags integration -run '^$' -bench BenchmarkSambaDirectory -benchtime 1x ./integration/
const (
	benchPrincipals  = 20
	benchKeysPerNode = 10
	benchHandshakes  = benchPrincipals * benchKeysPerNode
	benchGroupDN     = "CN=Bench Nodes," + adGroups
	// benchZAPTimeout replaces zap's 1 s default so that a slow directory
	// shows up as a lower rate, not as 300 replies and client retries.
	benchZAPTimeout = 30 * time.Second
	// benchWait bounds one measurement of 200 handshakes.
	benchWait = 2 * time.Minute
)

// countingDir is an idp.Directory that counts the lookups it passes to the
// wrapped directory. It deliberately implements neither idp.KeyFinder nor
// idp.Closer, so a cache in front of it neither finds keys through it nor
// closes the shared LDAP directory.
type countingDir struct {
	dir     idp.Directory
	queries atomic.Int64
}

// Lookup counts the query and asks the wrapped directory.
func (c *countingDir) Lookup(ctx context.Context, principal string) (idp.Identity, error) {
	c.queries.Add(1)
	return c.dir.Lookup(ctx, principal)
}

// benchNode is one client keypair and the principal it is bound to.
type benchNode struct {
	principal      string
	public, secret string // Z85
}

// gate is a zap.Server over a chain plus an echoing CURVE ROUTER, in its
// own context (ZAP handlers are per context).
type gate struct {
	zctx     *zmq.Context
	zs       *zap.Server
	endpoint string
	echoDone sync.WaitGroup
}

func startGate(b *testing.B, chain authn.Chain, serverSecret string) *gate {
	b.Helper()
	g := &gate{}
	var err error
	if g.zctx, err = zmq.NewContext(); err != nil {
		b.Fatal(err)
	}
	g.zs, err = zap.NewServer(g.zctx, authn.New(chain), zap.Config{
		Timeout: benchZAPTimeout, Properties: authn.Properties(), Logger: chain.Logger,
	})
	if err != nil {
		b.Fatal(err)
	}
	// The ZAP handler answers before the CURVE socket binds (invariant 1).
	if err := g.zs.Start(); err != nil {
		b.Fatal(err)
	}
	r, err := g.zctx.NewSocket(zmq.ROUTER)
	if err != nil {
		b.Fatal(err)
	}
	// libzmq's default listen backlog (100) would drop some of 200
	// simultaneous SYNs, and their 1 s retransmit would be measured instead.
	for _, err := range []error{r.SetLinger(0), r.SetBacklog(4 * benchHandshakes), r.SetCurveServer(1),
		r.SetCurveSecretkey(serverSecret), r.Bind("tcp://127.0.0.1:*")} {
		if err != nil {
			r.Close()
			b.Fatal(err)
		}
	}
	g.endpoint, _ = r.GetLastEndpoint()
	g.echoDone.Add(1)
	go func() {
		defer g.echoDone.Done()
		defer r.Close()
		for {
			msg, err := r.RecvMessageBytes(0)
			if err != nil {
				return // ETERM
			}
			_, _ = r.SendMessage(msg)
		}
	}()
	return g
}

// close terminates the context (the echo loop and the ZAP server see ETERM
// and close their sockets) and stops the ZAP server.
func (g *gate) close() {
	_ = g.zctx.Term()
	g.echoDone.Wait()
	_ = g.zs.Close()
}

// handshakes connects one DEALER per node at once, each sending one message,
// and waits until every message has come back. It returns the time from the
// first connect to the last reply. Every ZAP reply must be 200.
func (g *gate) handshakes(b *testing.B, cctx *zmq.Context, nodes []benchNode, serverPublic string) time.Duration {
	b.Helper()
	before := g.zs.Stats()
	socks := make([]*zmq.Socket, 0, len(nodes))
	defer func() {
		for _, so := range socks {
			so.Close()
		}
	}()
	poller := zmq.NewPoller()
	for _, n := range nodes {
		so, err := cctx.NewSocket(zmq.DEALER)
		if err != nil {
			b.Fatal(err)
		}
		socks = append(socks, so)
		for _, err := range []error{so.SetLinger(0), so.SetCurveServerkey(serverPublic),
			so.SetCurvePublickey(n.public), so.SetCurveSecretkey(n.secret)} {
			if err != nil {
				b.Fatal(err)
			}
		}
		poller.Add(so, zmq.POLLIN)
	}
	start := time.Now()
	for i, so := range socks {
		if err := so.Connect(g.endpoint); err != nil {
			b.Fatalf("client %d: connect: %v", i, err)
		}
		if _, err := so.Send("hello", 0); err != nil {
			b.Fatalf("client %d: send: %v", i, err)
		}
	}
	answered := make(map[*zmq.Socket]bool, len(socks))
	deadline := start.Add(benchWait)
	for len(answered) < len(socks) {
		left := time.Until(deadline)
		if left <= 0 {
			b.Fatalf("%d of %d handshakes not accepted within %s; zap stats %+v",
				len(socks)-len(answered), len(socks), benchWait, g.zs.Stats())
		}
		ready, err := poller.Poll(left)
		if err != nil {
			b.Fatalf("poll: %v", err)
		}
		for _, p := range ready {
			if _, err := p.Socket.RecvMessageBytes(zmq.DONTWAIT); err != nil {
				b.Fatalf("receive: %v", err)
			}
			answered[p.Socket] = true
		}
	}
	elapsed := time.Since(start)
	after := g.zs.Stats()
	if ok := after.OK - before.OK; ok != uint64(len(nodes)) || after.Requests-before.Requests != ok {
		b.Fatalf("ZAP replies: %d OK of %d requests, want %d OK and nothing else (stats %+v)",
			ok, after.Requests-before.Requests, len(nodes), after)
	}
	return elapsed
}

// seedBenchNodes adds BENCH00$ … BENCH19$ (enabled computer accounts) to
// a new group "Bench Nodes" and returns their principals.
func seedBenchNodes(b *testing.B, s *sambaDC) []string {
	b.Helper()
	c := s.adminConn(b)
	var principals, members []string
	add := func(dn string, attrs map[string][]string) {
		b.Helper()
		r := goldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		if err := c.Add(r); err != nil {
			b.Fatalf("add %s: %v", dn, err)
		}
	}
	for i := range benchPrincipals {
		name := fmt.Sprintf("BENCH%02d", i)
		dn := fmt.Sprintf("CN=%s,OU=Nodes,%s", name, adBase)
		add(dn, map[string][]string{
			"objectClass": {"computer"}, "sAMAccountName": {name + "$"},
			"userAccountControl": {"4096"}, // WORKSTATION_TRUST_ACCOUNT
		})
		principals, members = append(principals, name+"$"), append(members, dn)
	}
	add(benchGroupDN, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"Bench-Nodes"}, "member": members})
	return principals
}

// enrollBenchNodes binds benchKeysPerNode new keys per principal in a new
// key registry directory and returns the clients and the open registry.
func enrollBenchNodes(b *testing.B, principals []string) ([]benchNode, *certs.Registry) {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "registry")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	var nodes []benchNode
	for _, p := range principals {
		for k := range benchKeysPerNode {
			c, err := certs.NewCert()
			if err != nil {
				b.Fatal(err)
			}
			nodes = append(nodes, benchNode{principal: p, public: c.Public.String(), secret: c.Secret.Z85()})
			pub := &certs.Cert{Public: c.Public}
			pub.Metadata.Set(certs.MetaPrincipal, p)
			if err := pub.SavePublic(filepath.Join(dir, fmt.Sprintf("%s-%02d.key", certs.SafeName(p, c.Public), k))); err != nil {
				b.Fatal(err)
			}
		}
	}
	reg, err := certs.Open(dir, certs.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close() })
	if st := reg.Stats(); st.Bindings != len(nodes) {
		b.Fatalf("registry holds %d bindings, want %d (problems: %v)", st.Bindings, len(nodes), reg.Problems())
	}
	return nodes, reg
}

func BenchmarkSambaDirectory(b *testing.B) {
	s := startSamba(b) // stopped by PID at cleanup
	principals := seedBenchNodes(b, s)
	nodes, reg := enrollBenchNodes(b, principals)
	quiet := slog.New(slog.DiscardHandler)

	ldapDir, err := zldap.New(s.config())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ldapDir.Close() })
	// Fill the LDAP connection pool (outside any measurement) and check
	// that the principals resolve with the benchmark's group.
	var wg sync.WaitGroup
	for i := range zldap.DefaultPoolSize {
		wg.Add(1)
		go func(p string) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			id, err := ldapDir.Lookup(ctx, p)
			if err != nil || !id.Enabled || len(id.Groups) == 0 {
				b.Errorf("warm-up lookup %s: %+v, %v", p, id, err)
			}
		}(principals[i])
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}

	pol, err := policy.Parse("bench-policy.yaml", []byte(fmt.Sprintf(
		"version: 1\ndefault: deny\nroles:\n  node:\n    connect: {}\nbindings:\n  - {group: %q, roles: [node]}\n", benchGroupDN)))
	if err != nil {
		b.Fatal(err)
	}
	auditLog, err := audit.Open(audit.Options{Dir: filepath.Join(b.TempDir(), "audit"), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { auditLog.Close() })
	chain := func(d idp.Directory) authn.Chain {
		return authn.Chain{Keys: reg, Directory: d, Policy: pol, Audit: auditLog, Logger: quiet}
	}
	server, err := certs.NewCert()
	if err != nil {
		b.Fatal(err)
	}
	cctx, err := zmq.NewContext()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cctx.Term() })

	var tCold, tWarm, tNoCache time.Duration
	var qCold, qWarm, qNoCache int64
	measure := func(d idp.Directory, counter *countingDir, runs ...*time.Duration) []int64 {
		g := startGate(b, chain(d), server.Secret.Z85())
		defer g.close()
		var queries []int64
		for _, spent := range runs {
			before := counter.queries.Load()
			*spent += g.handshakes(b, cctx, nodes, server.Public.String())
			queries = append(queries, counter.queries.Load()-before)
		}
		return queries
	}
	cached := func() {
		counter := &countingDir{dir: ldapDir}
		c := cache.New(counter, cache.Options{Logger: quiet})
		defer c.Close()
		q := measure(c, counter, &tCold, &tWarm)
		if q[0] != benchPrincipals || q[1] != 0 {
			b.Fatalf("directory queries: cold %d (want %d), warm %d (want 0)", q[0], benchPrincipals, q[1])
		}
		qCold, qWarm = qCold+q[0], qWarm+q[1]
	}
	uncached := func() {
		counter := &countingDir{dir: ldapDir}
		q := measure(counter, counter, &tNoCache)
		if q[0] != benchHandshakes {
			b.Fatalf("directory queries without a cache: %d, want %d", q[0], benchHandshakes)
		}
		qNoCache += q[0]
	}
	b.ResetTimer()
	for i := range b.N {
		// Alternate the order so that drift favours neither side.
		if i%2 == 0 {
			cached()
			uncached()
		} else {
			uncached()
			cached()
		}
	}
	b.StopTimer()
	n := float64(b.N)
	rate := func(spent time.Duration) float64 { return n * benchHandshakes / spent.Seconds() }
	b.ReportMetric(float64(qCold)/n, "cold-queries")
	b.ReportMetric(float64(qWarm)/n, "warm-queries")
	b.ReportMetric(float64(qNoCache)/n, "nocache-queries")
	b.ReportMetric(rate(tCold), "cold-handshakes/s")
	b.ReportMetric(rate(tWarm), "warm-handshakes/s")
	b.ReportMetric(rate(tNoCache), "nocache-handshakes/s")
	b.ReportMetric(rate(tCold)/rate(tNoCache), "cold/nocache-ratio")
	b.ReportMetric(rate(tWarm)/rate(tNoCache), "warm/nocache-ratio")
	b.ReportMetric(0, "ns/op")
}
