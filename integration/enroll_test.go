//go:build integration

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/enrollclient"
)

// enrollEnv is `zapgate serve` with enrollment enabled against a test
// OpenID provider, and an enrollment client that trusts its admin
// certificate.
type enrollEnv struct {
	*serveEnv
	provider *oidcProvider
	jwks     string // the provider's current signing keys
	caFile   string // PEM of the admin listener's self-signed certificate
	broker   string // https://127.0.0.1:PORT
	client   *enrollclient.Client
	out      *strings.Builder
	secrets  map[certs.PublicKey]certs.SecretKey // of the keys nodeKey made
}

// enrollPolicy: nodes in okta:backup-proxies serve and request the proxy
// service; people in okta:backup-admins (alice, bob, carol) may enroll
// PROXY0*$ alone and REPO*$ with a second approval.
const enrollPolicy = `version: 1
roles:
  proxy:
    connect: {}
    serve: [proxy]
    request:
      - {service: proxy, commands: ["task.*"]}
  enroller:
    enroll:
      - {principals: ["PROXY0*$"]}
      - {principals: ["REPO*$"], approvals: 2}
bindings:
  - {group: "okta:backup-proxies", roles: [proxy]}
  - {group: "okta:backup-admins", roles: [enroller]}
`

// enrollDirectory is the static directory: the principals keys are
// enrolled for.
const enrollDirectory = `version: 1
principals:
  "PROXY01$": {groups: ["okta:backup-proxies"]}
  "PROXY02$": {groups: ["okta:backup-proxies"]}
  "PROXY03$": {groups: ["okta:backup-proxies"]}
  "PROXY04$": {groups: ["okta:backup-proxies"]}
  "PROXY05$": {groups: ["okta:backup-proxies"]}
  "PROXY06$": {groups: ["okta:backup-proxies"]}
  "PROXY08$": {groups: ["okta:backup-proxies"]}
  "PROXY09$": {groups: ["okta:backup-proxies"]}
  "PROXY07$": {groups: ["okta:backup-proxies"], enabled: false}
  "REPO01$": {groups: ["okta:backup-proxies"]}
  "SERVER01$": {groups: ["okta:backup-proxies"]}
`

// newEnrollEnv starts a test OpenID provider and `zapgate serve` with
// enroll.enabled trusting it, on an HTTPS admin listener, with
// enrollPolicy and the static directory enrollDirectory.
func newEnrollEnv(t *testing.T) *enrollEnv {
	t.Helper()
	se := newServeEnv(t)
	os.WriteFile(filepath.Join(se.dir, "policy.yaml"), []byte(enrollPolicy), 0o644)
	os.WriteFile(filepath.Join(se.dir, "directory.yaml"), []byte(enrollDirectory), 0o644)
	return startEnrollEnv(t, se)
}

// startEnrollEnv starts a test OpenID provider and `zapgate serve` on se
// (its policy and directory already set up) with enroll.enabled trusting
// the provider, on an HTTPS admin listener.
func startEnrollEnv(t *testing.T, se *serveEnv) *enrollEnv {
	t.Helper()
	jwks := writeJWKS(t, "key-1")
	p := startOIDCProvider(t, 0, jwks, 600)
	e := &enrollEnv{serveEnv: se, provider: p, jwks: jwks, secrets: map[certs.PublicKey]certs.SecretKey{}}
	pki := filepath.Join(e.dir, "admin-pki")
	if err := os.Mkdir(pki, 0o700); err != nil {
		t.Fatal(err)
	}
	e.caFile = writeTestPKI(t, pki)
	cert, key := filepath.Join(pki, "server.pem"), filepath.Join(pki, "server.key")
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	admin := "admin:\n  listen: " + e.admin + "\n"
	if !strings.Contains(string(cfg), admin) {
		t.Fatalf("no %q in the serve config:\n%s", admin, cfg)
	}
	cfg = []byte(strings.Replace(string(cfg), admin, admin+"  tls_cert_file: "+cert+"\n  tls_key_file: "+key+"\n", 1))
	cfg = append(cfg, fmt.Sprintf(`enroll:
  enabled: true
  issuer: %s
  client_id: %s
  groups_claim: groups
  groups_prefix: "okta:"
  principal_claim: email
  state_dir: %s/enroll
  rate_limit: {rate: 100, burst: 1000}   # every test's requests come from 127.0.0.1
`, p.issuer, enrollClientID, e.dir)...)
	os.WriteFile(e.config, cfg, 0o644)
	cmd, out := e.start(t)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	e.out = out
	e.broker = "https://" + e.admin
	e.client, err = enrollclient.New(e.broker, enrollclient.Options{CAFile: e.caFile})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// nodeKey generates DIR/NAME.key(_secret) and returns the public key;
// enroll proves possession with its secret.
func (e *enrollEnv) nodeKey(t *testing.T, name string) certs.PublicKey {
	t.Helper()
	mustRun(t, "keygen", name, "--dir", e.dir)
	c, err := certs.LoadSecret(filepath.Join(e.dir, name+".key_secret"))
	if err != nil {
		t.Fatal(err)
	}
	e.secrets[c.Public] = *c.Secret
	return c.Public
}

// enroll posts an enrollment with a raw ID token, proving possession of
// key with its secret (a challenge, then the proof), as `zapgate enroll`
// does.
func (e *enrollEnv) enroll(principal string, key certs.PublicKey, idToken string) (enrollclient.Result, error) {
	sec, ok := e.secrets[key]
	if !ok {
		return enrollclient.Result{}, fmt.Errorf("no secret for key %s: make it with nodeKey", key)
	}
	return e.client.EnrollKey(context.Background(), sec, principal, idToken)
}

// wantRefused checks that err is the broker's refusal code with status.
func wantRefused(t *testing.T, what string, res enrollclient.Result, err error, code string, status int) {
	t.Helper()
	var be *enrollclient.Error
	if !errors.As(err, &be) || be.Code != code || be.Status != status {
		t.Errorf("%s: got %+v, %v; want %s (HTTP %d)", what, res, err, code, status)
	}
}

// runDeviceCLI runs the zapgate binary with args (a verb that signs in with
// the device flow), reads the verification URL and user code it prints,
// signs in at the provider as login, and returns the verb's output and
// exit error.
func runDeviceCLI(t *testing.T, login string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(zapgateBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	var out strings.Builder
	var verification, code string
	sc := bufio.NewScanner(stdout)
	for (verification == "" || code == "") && sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "verification URL: "); ok {
			verification = v
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "user code: "); ok {
			code = v
		}
	}
	if verification == "" || code == "" {
		cmd.Wait()
		t.Fatalf("zapgate %v printed no verification URL and user code:\n%s%s", args, out.String(), stderr.String())
	}
	if err := approveDevice(verification, code, login); err != nil {
		t.Fatalf("signing in as %s: %v", login, err)
	}
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	return out.String() + stderr.String(), err
}

// TestEnrollDeviceFlowEndToEnd: `zapgate enroll` on a new node prints a
// user code; a person (alice, in backup-admins) signs in at the real
// OpenID provider's pages and approves; the broker binds the key and the
// node connects and relays a command.
func TestEnrollDeviceFlowEndToEnd(t *testing.T) {
	e := newEnrollEnv(t)
	e.nodeKey(t, "proxy09")
	out, err := runDeviceCLI(t, "alice", "enroll", "--broker", e.broker, "--ca-file", e.caFile, "--no-qr",
		"--key", filepath.Join(e.dir, "proxy09.key_secret"), "--principal", "PROXY09$")
	if err != nil || !strings.Contains(out, "bound: key ") || !strings.Contains(out, "is bound to PROXY09$ (approved by alice@example.com)") {
		t.Fatalf("zapgate enroll: %v\n%s\nbroker:\n%s", err, out, e.out)
	}
	t.Logf("zapgate enroll printed:\n%s", out)

	worker, requester := nodeClient(t, e.serveEnv, "proxy09"), nodeClient(t, e.serveEnv, "proxy09")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker.Serve(ctx, "proxy", func(_ context.Context, cmd string, _ [][]byte) ([][]byte, error) {
		return [][]byte{[]byte("done " + cmd)}, nil
	})
	reply, err := retryRequest(requester, "proxy", "task.start")
	if err != nil || len(reply) != 1 || string(reply[0]) != "done task.start" {
		t.Fatalf("the enrolled node's request: %q %v\n%s", reply, err, e.out)
	}
	list := mustRun(t, "keys", "list", "--registry", filepath.Join(e.dir, "keys"))
	if !strings.Contains(list, "PROXY09$") {
		t.Errorf("keys list lacks PROXY09$:\n%s", list)
	}

	// The same CLI (with its QR code this time), refused: mallory is in
	// no group that may enroll.
	e.nodeKey(t, "proxy08")
	out, err = runDeviceCLI(t, "mallory", "enroll", "--broker", e.broker, "--ca-file", e.caFile,
		"--key", filepath.Join(e.dir, "proxy08.key_secret"), "--principal", "PROXY08$")
	if err == nil || !strings.Contains(out, "broker refused: forbidden") {
		t.Errorf("mallory's enrollment: %v\n%s", err, out)
	}
	if !strings.Contains(out, "█") {
		t.Errorf("no QR code printed:\n%s", out)
	}
}

// TestEnrollRefusals presents ID tokens the broker must refuse, each
// obtained from a real provider with the device flow: another client's
// (wrong audience), another issuer's, an expired one, a tampered one, one
// used twice; a key already bound to another principal; a person without
// the enroll permission, or enrolling a principal outside their patterns,
// an unknown or disabled principal; a proof of possession made with
// another secret key (which does not spend the token). Then the provider rotates its signing
// key (restart on the same port with a new kid) and a new token still
// verifies at the broker.
func TestEnrollRefusals(t *testing.T) {
	e := newEnrollEnv(t)
	p := e.provider
	k1, k2, k3, k4, k5 := e.nodeKey(t, "n1"), e.nodeKey(t, "n2"), e.nodeKey(t, "n3"), e.nodeKey(t, "n4"), e.nodeKey(t, "n5")

	res, err := e.enroll("PROXY01$", k1, p.token(t, otherClientID, "alice"))
	wantRefused(t, "token for another client", res, err, "invalid-token", 401)

	other := startOIDCProvider(t, 0, e.jwks, 600) // same key, other issuer
	res, err = e.enroll("PROXY01$", k1, other.token(t, enrollClientID, "alice"))
	wantRefused(t, "token from another issuer", res, err, "invalid-token", 401)

	tok := p.token(t, enrollClientID, "alice")
	res, err = e.enroll("PROXY01$", k1, tamper(tok))
	wantRefused(t, "tampered token", res, err, "invalid-token", 401)
	res, err = e.enroll("PROXY01$", k1, "not.a.jwt")
	wantRefused(t, "garbage token", res, err, "invalid-token", 401)

	res, err = e.enroll("PROXY01$", k1, p.token(t, enrollClientID, "mallory"))
	wantRefused(t, "mallory (no groups)", res, err, "forbidden", 403)
	res, err = e.enroll("SERVER01$", k1, p.token(t, enrollClientID, "alice"))
	wantRefused(t, "a principal outside alice's patterns", res, err, "forbidden", 403)
	res, err = e.enroll("PROXY00$", k1, p.token(t, enrollClientID, "alice"))
	wantRefused(t, "a principal not in the directory", res, err, "unknown-principal", 404)
	res, err = e.enroll("PROXY07$", k1, p.token(t, enrollClientID, "alice"))
	wantRefused(t, "a disabled principal", res, err, "principal-disabled", 403)
	res, err = e.client.Enroll(context.Background(), enrollclient.EnrollRequest{Principal: "PROXY01$", PublicKey: "too short", IDToken: p.token(t, enrollClientID, "alice")})
	wantRefused(t, "a malformed public key", res, err, "bad-request", 400)

	// A proof made with another secret key (someone binding a key they
	// do not hold): invalid-proof, before the token is looked at...
	ch, err := e.client.Challenge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, otherSecret, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	proof, err := enrollclient.Proof(otherSecret, ch, "PROXY01$", tok)
	if err != nil {
		t.Fatal(err)
	}
	res, err = e.client.Enroll(context.Background(), enrollclient.EnrollRequest{Principal: "PROXY01$", PublicKey: k1.Z85(), IDToken: tok,
		Challenge: ch.Challenge, Proof: proof})
	wantRefused(t, "a proof made with another secret key", res, err, "invalid-proof", 401)
	if err != nil && !strings.Contains(err.Error(), "proof does not match the key") {
		t.Errorf("invalid-proof message: %v", err)
	}

	// ...so the untampered token was not used up by the refusals above:
	// with a correct proof it binds.
	res, err = e.enroll("PROXY01$", k1, tok)
	if err != nil || res.Status != "bound" || res.Principal != "PROXY01$" || res.Fingerprint != k1.Fingerprint() {
		t.Fatalf("alice enrolling PROXY01$: %+v %v\n%s", res, err, e.out)
	}
	res, err = e.enroll("PROXY02$", k2, tok)
	wantRefused(t, "the same token again", res, err, "token-replayed", 409)
	res, err = e.enroll("PROXY02$", k1, p.token(t, enrollClientID, "alice"))
	wantRefused(t, "a key bound to PROXY01$ for PROXY02$", res, err, "key-bound", 409)

	// An ID token that expired before it reached the broker: the provider
	// restarts (same issuer and key) issuing 2 s tokens.
	p = p.restart(t, e.jwks, 2)
	tok = p.token(t, enrollClientID, "alice")
	waitExpired(t, tok)
	res, err = e.enroll("PROXY03$", k3, tok)
	wantRefused(t, "expired token", res, err, "invalid-token", 401)

	// Key rotation: the provider now signs with a new key (new kid); the
	// broker fetches it and accepts the new token.
	p = p.restart(t, e.jwks, 600)
	retired := p.token(t, enrollClientID, "alice")
	e.jwks = writeJWKS(t, "key-2")
	p = p.restart(t, e.jwks, 600)
	res, err = e.enroll("PROXY04$", k4, p.token(t, enrollClientID, "bob"))
	if err != nil || res.Status != "bound" || strings.Join(res.ApprovedBy, ",") != "bob@example.com" {
		t.Errorf("after the provider's key rotation: %+v %v\n%s", res, err, e.out)
	}
	// An unexpired token signed with the retired key is refused: the
	// provider no longer publishes that key.
	res, err = e.enroll("PROXY05$", k5, retired)
	wantRefused(t, "a token signed with the retired key", res, err, "invalid-token", 401)

	// Every refusal is audited with its code; the two bindings too.
	got := map[string]int{}
	for _, r := range enrollAudit(t, e.dir, "keys.enroll") {
		got[r.outcome+" "+r.code]++
	}
	want := map[string]int{
		"failure invalid-token": 6, "failure forbidden": 2, "failure unknown-principal": 1,
		"failure principal-disabled": 1, "failure bad-request": 1, "failure invalid-proof": 1, "failure token-replayed": 1,
		"failure key-bound": 1, "success bound": 2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keys.enroll audit records by outcome and code:\n got %v\nwant %v", got, want)
	}
}

// auditEntry is an audit record's outcome and the code that starts its
// reason.
type auditEntry struct{ outcome, code, reason string }

// enrollAudit exports the audit records of action from DIR/audit.
func enrollAudit(t *testing.T, dir, action string) []auditEntry {
	t.Helper()
	out := mustRun(t, "audit", "export", "--action", action, "--format", "jsonl", filepath.Join(dir, "audit"))
	var recs []auditEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r struct {
			Outcome string `json:"event.outcome"`
			Reason  string `json:"event.reason"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit export line %q: %v", line, err)
		}
		code, _, _ := strings.Cut(r.Reason, " ")
		recs = append(recs, auditEntry{r.Outcome, code, r.Reason})
	}
	return recs
}

// TestEnrollSecondApproval: REPO*$ needs two people. alice's enrollment
// (`zapgate enroll`) is pending; alice cannot approve it herself; bob approves it with `zapgate
// keys approve` (device flow) and the key is bound; a further approval
// finds nothing pending.
func TestEnrollSecondApproval(t *testing.T) {
	e := newEnrollEnv(t)
	p := e.provider
	k := e.nodeKey(t, "repo01")
	out, err := runDeviceCLI(t, "alice", "enroll", "--broker", e.broker, "--ca-file", e.caFile, "--no-qr",
		"--key", filepath.Join(e.dir, "repo01.key_secret"), "--principal", "REPO01$")
	want := fmt.Sprintf("pending: key %s for REPO01$ needs 2 approvals (so far: alice@example.com)", k.Fingerprint())
	if err != nil || !strings.Contains(out, want) || !strings.Contains(out, "zapgate keys approve --broker "+e.broker+" "+k.Fingerprint()) {
		t.Fatalf("alice enrolling REPO01$: %v\n%s\nbroker:\n%s", err, out, e.out)
	}
	res, err := e.client.Approve(context.Background(), k.Fingerprint(), p.token(t, enrollClientID, "alice"))
	wantRefused(t, "alice approving her own enrollment", res, err, "same-approver", 409)
	res, err = e.client.Approve(context.Background(), k.Fingerprint(), p.token(t, enrollClientID, "mallory"))
	wantRefused(t, "mallory approving", res, err, "forbidden", 403)

	out, err = runDeviceCLI(t, "bob", "keys", "approve", "--broker", e.broker, "--ca-file", e.caFile, "--no-qr", k.Fingerprint())
	if err != nil || !strings.Contains(out, "is bound to REPO01$ (approved by alice@example.com, bob@example.com)") {
		t.Fatalf("bob's approval: %v\n%s\nbroker:\n%s", err, out, e.out)
	}
	res, err = e.client.Approve(context.Background(), k.Fingerprint(), p.token(t, enrollClientID, "carol"))
	wantRefused(t, "a third approval", res, err, "not-pending", 404)

	// The pending request granted nothing yet: outcome unknown.
	var got []string
	for _, r := range enrollAudit(t, e.dir, "keys.enroll,keys.approve") {
		got = append(got, r.outcome+" "+r.code)
	}
	want = "unknown pending, failure same-approver, failure forbidden, success bound, failure not-pending"
	if strings.Join(got, ", ") != want {
		t.Errorf("audit records (outcome, code):\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
	// The broker's registry watcher audits the new binding too, naming the
	// approvers who made it.
	waitUntil(t, 5*time.Second, "the keys.add record of the enrolled key", func() bool {
		for _, r := range enrollAudit(t, e.dir, "keys.add") {
			if r.code == "added" && strings.Contains(r.reason, `principal="REPO01$"`) &&
				strings.Contains(r.reason, "by=enroll: alice@example.com, bob@example.com") {
				return true
			}
		}
		return false
	})
}
