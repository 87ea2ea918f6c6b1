package enroll

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/enroll/wire"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/enrollclient"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/static"
	"github.com/zapgate/zapgate/policy"
)

const testClientID = "zapgate-enroll"

const testPolicy = `version: 1
revision: enroll-unit
roles:
  enroller:
    enroll:
      - {principals: ["PROXY*$", "REPO*$"]}
      - {principals: ["svc-*@corp.example.com"], approvals: 2}
bindings:
  - {group: "okta:backup-admins", roles: [enroller]}
deny:
  - {group: "okta:contractors", actions: [enroll], reason: contractors never enroll}
`

const testDirectory = `version: 1
principals:
  "PROXY01$": {groups: ["okta:backup-proxies"]}
  "PROXY02$": {}
  "PROXY09$": {enabled: false}
  "REPO01$": {}
  "DC01$": {}
  "svc-backup@corp.example.com": {}
  "carol@corp.example.com": {groups: ["okta:backup-admins"]}
  "dave@corp.example.com": {enabled: false, groups: ["okta:backup-admins"]}
`

// recorder keeps audit records in memory; fail makes Append fail.
type recorder struct {
	mu   sync.Mutex
	recs []audit.Record
	fail error
}

func (r *recorder) Append(_ context.Context, rec audit.Record) (audit.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return audit.Receipt{}, r.fail
	}
	r.recs = append(r.recs, rec)
	return audit.Receipt{Seq: uint64(len(r.recs))}, nil
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

// last returns the last record.
func (r *recorder) last(t *testing.T) audit.Record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		t.Fatal("no audit record")
	}
	return r.recs[len(r.recs)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

// flaky wraps a directory; while down, every lookup is an outage.
type flaky struct {
	idp.Directory
	mu   sync.Mutex
	down bool
}

func (f *flaky) Lookup(ctx context.Context, p string) (idp.Identity, error) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return idp.Identity{}, idp.ErrUnavailable
	}
	return f.Directory.Lookup(ctx, p)
}

func (f *flaky) setDown(d bool) {
	f.mu.Lock()
	f.down = d
	f.mu.Unlock()
}

type harness struct {
	t        *testing.T
	iss      *testIssuer
	opts     Options
	svc      *Service
	srv      *httptest.Server
	rec      *recorder
	dir      *flaky
	registry string
}

func newHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	base := t.TempDir()
	dpath := filepath.Join(base, "directory.yaml")
	if err := os.WriteFile(dpath, []byte(testDirectory), 0o644); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sd, err := static.Open(dpath, static.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sd.Close() })
	pol, err := policy.Parse("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, iss: newTestIssuer(t), rec: &recorder{}, dir: &flaky{Directory: sd}, registry: filepath.Join(base, "keys")}
	h.opts = Options{
		Issuer: h.iss.URL(), ClientID: testClientID, Scopes: []string{"openid", "email", "groups"},
		GroupsPrefix: "okta:", StateDir: filepath.Join(base, "state"), Registry: h.registry,
		Directory: h.dir, Policy: pol, Audit: h.rec, Logger: quiet,
	}
	if mod != nil {
		mod(&h.opts)
	}
	h.restart()
	return h
}

// restart replaces the service with a new one over the same state, as a
// broker restart does.
func (h *harness) restart() {
	h.t.Helper()
	if h.srv != nil {
		h.srv.Close()
	}
	svc, err := New(h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.svc = svc
	h.srv = httptest.NewServer(svc.Handler())
	h.t.Cleanup(h.srv.Close)
}

// do sends a request and decodes the JSON answer.
func (h *harness) do(method, path string, body io.Reader, header map[string]string) (int, map[string]any) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &out); err != nil {
		h.t.Fatalf("%s %s: %d, not JSON: %q", method, path, resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, out
}

func (h *harness) post(path string, v any) (int, map[string]any) {
	h.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do("POST", path, bytes.NewReader(data), nil)
}

// enroll posts an enrollment with a fresh challenge and a proof made, as
// `zapgate enroll` makes it, with the secret of key (from newKey; any
// other key gets a proof made with an unrelated secret).
func (h *harness) enroll(principal, key, token string) (int, map[string]any) {
	h.t.Helper()
	secret, ok := testSecrets.Load(key)
	if !ok {
		_, other, err := certs.GenerateKeypair()
		if err != nil {
			h.t.Fatal(err)
		}
		secret = other
	}
	ch := h.challenge()
	return h.post("/v1/enroll", wire.EnrollRequest{Principal: principal, PublicKey: key, IDToken: token,
		Challenge: ch.Challenge, Proof: h.proof(secret.(certs.SecretKey), ch, principal, token)})
}

// challenge gets a challenge from GET /v1/enroll/challenge.
func (h *harness) challenge() wire.Challenge {
	h.t.Helper()
	status, body := h.do("GET", "/v1/enroll/challenge", nil, nil)
	if status != http.StatusOK {
		h.t.Fatalf("challenge: %d %v", status, body)
	}
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(body["expires_at"]))
	if err != nil {
		h.t.Fatalf("challenge expires_at: %v", err)
	}
	return wire.Challenge{Challenge: fmt.Sprint(body["challenge"]), ServerKey: fmt.Sprint(body["server_key"]), ExpiresAt: exp}
}

// proof makes a proof with the client's code (enrollclient.Proof).
func (h *harness) proof(secret certs.SecretKey, ch wire.Challenge, principal, token string) string {
	h.t.Helper()
	p, err := enrollclient.Proof(secret, enrollclient.Challenge{Challenge: ch.Challenge, ServerKey: ch.ServerKey}, principal, token)
	if err != nil {
		h.t.Fatalf("proof: %v", err)
	}
	return p
}

func (h *harness) approve(fp, token string) (int, map[string]any) {
	h.t.Helper()
	return h.post("/v1/enroll/approve", wire.ApproveRequest{Fingerprint: fp, IDToken: token})
}

// bindings returns the registry's bindings.
func (h *harness) bindings() []certs.Binding {
	h.t.Helper()
	bs, _ := certs.List(h.registry)
	return bs
}

// testSecrets maps the public keys newKey made (Z85) to their secret keys.
var testSecrets sync.Map

// newKey returns a fresh public key and its fingerprint; h.enroll proves
// possession with its secret key.
func newKey(t *testing.T) (string, string) {
	t.Helper()
	pub, sec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	testSecrets.Store(pub.String(), sec)
	return pub.String(), pub.Fingerprint()
}

// wantError checks a refusal's status, code and message.
func wantError(t *testing.T, what string, status int, body map[string]any, wantStatus int, code, msg string) {
	t.Helper()
	if status != wantStatus || body["error"] != code || !strings.Contains(body["message"].(string), msg) {
		t.Errorf("%s: %d %v; want %d %s containing %q", what, status, body, wantStatus, code, msg)
	}
}

var errDiskFull = errors.New("disk full")
