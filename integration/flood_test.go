//go:build integration

package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/certs"
)

// floodPolicy: PROXY01$ (okta:backup-proxies) may connect, serve echo and
// request it.
const floodPolicy = `version: 1
roles:
  proxy:
    connect: {}
    serve: [echo]
    request:
      - {service: echo, commands: ["task.*"]}
bindings:
  - {group: "okta:backup-proxies", roles: [proxy]}
`

// floodEnv is `zapgate serve` with one bound node key (PROXY01$).
type floodEnv struct {
	*serveEnv
	server certs.PublicKey // the broker's public key
	node   *certs.Cert     // PROXY01$'s keypair
	out    fmt.Stringer    // serve's output, once started
}

func newFloodEnv(t testing.TB, auditExtra string) *floodEnv {
	t.Helper()
	se := newServeEnv(t)
	e := &floodEnv{serveEnv: se}
	os.WriteFile(filepath.Join(e.dir, "policy.yaml"), []byte(floodPolicy), 0o644)
	mustRun(t, "keygen", "proxy01", "--dir", e.dir)
	mustRun(t, "keys", "add", filepath.Join(e.dir, "proxy01.key"), "--principal", "PROXY01$", "--registry", filepath.Join(e.dir, "keys"))
	if auditExtra != "" {
		f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(auditExtra)
		f.Close()
	}
	b, err := certs.LoadPublic(filepath.Join(e.dir, "broker.key"))
	if err != nil {
		t.Fatal(err)
	}
	e.server = b.Public
	if e.node, err = certs.LoadSecret(filepath.Join(e.dir, "proxy01.key_secret")); err != nil {
		t.Fatal(err)
	}
	return e
}

// metric reads one value from /metrics (-1 when absent).
func (e *serveEnv) metric(name string) float64 {
	_, body := e.get("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// outsiders opens n CURVE DEALER sockets with fresh random keys that no
// registry knows; each handshake is refused (400, no reconnect). close
// closes them.
func outsiders(t testing.TB, zctx *zmq.Context, endpoint string, server certs.PublicKey, n int) (close func()) {
	t.Helper()
	socks := make([]*zmq.Socket, 0, n)
	for i := 0; i < n; i++ {
		s, err := outsider(zctx, endpoint, server)
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, s)
	}
	return func() {
		for _, s := range socks {
			s.Close()
		}
	}
}

func outsider(zctx *zmq.Context, endpoint string, server certs.PublicKey) (*zmq.Socket, error) {
	pub, sec, err := zmq.NewCurveKeypair()
	if err != nil {
		return nil, err
	}
	s, err := zctx.NewSocket(zmq.DEALER)
	if err != nil {
		return nil, err
	}
	s.SetLinger(0)
	s.SetCurveServerkey(server.String())
	s.SetCurvePublickey(pub)
	s.SetCurveSecretkey(sec)
	if endpoint == "" {
		return s, nil // the caller connects
	}
	if err := s.Connect(endpoint); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// exportActions returns the exported records of one action as maps.
func exportActions(t testing.TB, dir, action string) []map[string]any {
	t.Helper()
	out := mustRun(t, "audit", "export", "--action", action, "--format", "jsonl", filepath.Join(dir, "audit"))
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit export line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// stop sends SIGTERM and waits for serve to exit.
func stopServe(t testing.TB, cmd *exec.Cmd, out fmt.Stringer) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop:\n%s", out)
	}
}

// TestFloodUnknownKeysAuditBounded: 300 handshakes with random keys from
// one address cost at most audit.unauthenticated.per_source full records
// and one authn.refusals summary, while a bound node is still granted and
// its grant written in full.
func TestFloodUnknownKeysAuditBounded(t *testing.T) {
	const n = 300
	e := newFloodEnv(t, "")
	cmd, out := e.start(t)
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	closeAll := outsiders(t, zctx, e.listen, e.server, n)
	waitUntil(t, 30*time.Second, "every outsider to be refused", func() bool { return e.metric("zapgate_zap_denied_total") >= n })
	cl, err := client.New(client.Config{Endpoint: e.listen, ServerKey: e.server, PublicKey: e.node.Public, SecretKey: *e.node.Secret})
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, cl, "echo")
	waitWorker(t, cl, "echo", "task.ping")
	cl.Close()
	closeAll()
	if c := e.metric("zapgate_authn_unauthenticated_counted_total"); c < n-5 {
		t.Errorf("zapgate_authn_unauthenticated_counted_total %v, want ≥ %d", c, n-5)
	}
	// The transport's lines of the outsiders' connections past the
	// budget are counted, not logged (accepted and closed each, at least).
	waitUntil(t, 10*time.Second, "transport lines past the budget counted", func() bool {
		return e.metric("zapgate_broker_transport_lines_suppressed_total") >= 2*(n-10)
	})
	for _, name := range []string{"zapgate_broker_received_total", "zapgate_broker_requests_total", "zapgate_broker_replies_total",
		`zapgate_broker_refused_total{code="403"}`, "zapgate_broker_connections", "zapgate_broker_unauthenticated_total"} {
		if e.metric(name) < 0 {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if got := e.metric("zapgate_broker_requests_total"); got < 1 {
		t.Errorf("zapgate_broker_requests_total %v, want the echo request counted", got)
	}
	if e.metric("zapgate_audit_reserve_low") != 0 || e.metric("zapgate_audit_free_bytes") <= 0 {
		t.Errorf("reserve metrics: low %v, free %v", e.metric("zapgate_audit_reserve_low"), e.metric("zapgate_audit_free_bytes"))
	}
	if code, body := e.get("/readyz"); code != 200 || !strings.Contains(body, `"name":"audit_reserve","ok":true`) {
		t.Errorf("readyz %d %s", code, body)
	}
	stopServe(t, cmd, out)
	logs := out.String()
	if a := strings.Count(logs, "msg=accepted component=transport"); a > 5 {
		t.Errorf("%d transport accepted lines for %d connections of one address, want at most 5 (audit.unauthenticated.per_source)", a, n+1)
	}
	if !strings.Contains(logs, `msg="connections summarized" component=transport source.ip=127.0.0.1`) {
		t.Errorf("no transport summary line for 127.0.0.1 in serve's output")
	}

	var refused, granted int
	for _, r := range exportActions(t, e.dir, "authn.connect") {
		switch {
		case r["event.outcome"] == "failure" && r["event.reason"] == "unknown-key":
			refused++
		case r["event.outcome"] == "success" && r["user.name"] == "PROXY01$":
			granted++
		}
	}
	if refused > 5 || granted == 0 {
		t.Errorf("%d unknown-key handshakes wrote %d full refusal records (want at most 5, audit.unauthenticated.per_source) and %d grants (want ≥ 1)", n, refused, granted)
	}
	sums := exportActions(t, e.dir, "authn.refusals")
	if len(sums) != 1 {
		t.Fatalf("%d authn.refusals summaries, want 1: %v", len(sums), sums)
	}
	reason, _ := sums[0]["event.reason"].(string)
	if want := fmt.Sprintf("refusals=%d counted=%d ", n, n-refused); !strings.Contains(reason, want) || sums[0]["source.ip"] != "127.0.0.1" {
		t.Errorf("summary %v lacks %q", sums[0], want)
	}
	// The whole log (start, policy load, grants, the budgeted refusals,
	// checkpoints) stays far below n full refusals (about 475 bytes each).
	if size := auditBytes(t, e.dir); size > 16<<10 {
		t.Errorf("the audit log holds %d bytes after %d refusals", size, n)
	} else {
		t.Logf("audit log: %d bytes in all", size)
	}
	t.Logf("%d refusals: %d full records, summary (%d bytes of reason): %s", n, refused, len(reason), reason)
}

// auditBytes is the size of every file in DIR/audit.
func auditBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	entries, err := os.ReadDir(filepath.Join(dir, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if fi, err := en.Info(); err == nil && !en.IsDir() {
			n += fi.Size()
		}
	}
	return n
}

// TestEnrollJunkPostsRateLimited: POST /v1/enroll without credentials
// from one address, 200 times: beyond the burst the broker answers 429
// with Retry-After before the token verifier or the audit log is touched,
// and the whole flood costs at most a few full records and one summary.
func TestEnrollJunkPostsRateLimited(t *testing.T) {
	e := newServeEnv(t)
	pki := filepath.Join(e.dir, "admin-pki")
	os.Mkdir(pki, 0o700)
	caFile := writeTestPKI(t, pki)
	cfg, _ := os.ReadFile(e.config)
	admin := "admin:\n  listen: " + e.admin + "\n"
	cfg = []byte(strings.Replace(string(cfg), admin, admin+"  tls_cert_file: "+filepath.Join(pki, "server.pem")+
		"\n  tls_key_file: "+filepath.Join(pki, "server.key")+"\n", 1))
	// The issuer is never reached: no junk request gets that far.
	cfg = append(cfg, fmt.Sprintf("enroll:\n  enabled: true\n  issuer: https://127.0.0.1:1\n  client_id: zapgate\n  state_dir: %s/enroll\n", e.dir)...)
	os.WriteFile(e.config, cfg, 0o644)
	pem, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	cmd := exec.Command(zapgateBin, "serve", "--config", e.config)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	url := "https://" + e.admin + "/v1/enroll"
	waitUntil(t, 15*time.Second, "the HTTPS admin listener", func() bool {
		resp, err := hc.Get("https://" + e.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	const n = 200
	codes := map[int]int{}
	retryAfter := ""
	for i := 0; i < n; i++ {
		resp, err := hc.Post(url, "application/json", strings.NewReader(`{"junk":`+strconv.Itoa(i)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if codes[http.StatusTooManyRequests] < n-20 || retryAfter == "" {
		t.Errorf("answers to %d junk POSTs: %v (Retry-After %q); want all but the burst to be 429", n, codes, retryAfter)
	}
	stopServe(t, cmd, out)
	full := exportActions(t, e.dir, "keys.enroll")
	sums := exportActions(t, e.dir, "keys.enroll.refusals")
	if size := auditBytes(t, e.dir); size > 16<<10 {
		t.Errorf("the audit log holds %d bytes after %d junk POSTs", size, n)
	}
	if len(full) > 5 || len(sums) != 1 {
		t.Fatalf("%d junk POSTs wrote %d full keys.enroll records (want at most 5) and %d summaries (want 1)", n, len(full), len(sums))
	}
	reason, _ := sums[0]["event.reason"].(string)
	if !strings.Contains(reason, fmt.Sprintf("refusals=%d counted=%d ", n, n-len(full))) || !strings.Contains(reason, "rate-limited:") {
		t.Errorf("summary %v", sums[0])
	}
	t.Logf("answers %v; %d full records; summary: %s", codes, len(full), reason)
}
