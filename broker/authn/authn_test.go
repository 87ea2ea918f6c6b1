package authn

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

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/static"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

const testPolicy = `version: 1
revision: "t1"
roles:
  proxy:
    connect: {from: ["127.0.0.0/8"]}
    serve: [proxy]
  server:
    connect: {}
    request:
      - {service: proxy, commands: ["task.*"]}
bindings:
  - {group: "CN=Proxies,DC=corp", roles: [proxy]}
  - {group: "okta:servers", roles: [server]}
deny:
  - {group: "CN=Quarantine,DC=corp"}
`

const testDirectory = `version: 1
principals:
  "PROXY01$": {groups: ["CN=Proxies,DC=corp"]}
  "SERVER01$": {groups: ["okta:servers"]}
  "QUAR$": {groups: ["CN=Proxies,DC=corp", "CN=Quarantine,DC=corp"]}
  "OFF$": {enabled: false, groups: ["CN=Proxies,DC=corp"]}
  "NOROLE$": {groups: ["CN=Elsewhere,DC=corp"]}
`

// env is a chain over real components in a temporary directory.
type env struct {
	dir   string
	reg   *certs.Registry
	log   *audit.Log
	keys  map[string]certs.PublicKey
	chain Chain
}

func newEnv(t testing.TB, dirDoc *string) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), keys: map[string]certs.PublicKey{}}
	quiet := slog.New(slog.DiscardHandler)
	regDir := filepath.Join(e.dir, "registry")
	os.Mkdir(regDir, 0o755)
	for _, p := range []string{"PROXY01$", "SERVER01$", "QUAR$", "OFF$", "NOROLE$", "GHOST$"} {
		c, err := certs.NewCert()
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(p, "$")
		if _, _, err := c.Save(e.dir, name); err != nil {
			t.Fatal(err)
		}
		if _, err := certs.AddCert(regDir, filepath.Join(e.dir, name+".key"), p, certs.AddOptions{}); err != nil {
			t.Fatal(err)
		}
		e.keys[p] = c.Public
	}
	var err error
	if e.reg, err = certs.Open(regDir, certs.Options{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	doc := testDirectory
	if dirDoc != nil {
		doc = *dirDoc
	}
	dpath := filepath.Join(e.dir, "directory.yaml")
	os.WriteFile(dpath, []byte(doc), 0o644)
	d, err := static.Open(dpath, static.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if e.log, err = audit.Open(audit.Options{Dir: filepath.Join(e.dir, "audit"), Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.log.Close(); e.reg.Close() })
	e.chain = Chain{Keys: e.reg, Directory: d, Policy: pol, Audit: e.log}
	return e
}

func curveReq(k certs.PublicKey, addr string) *zap.Request {
	return &zap.Request{Version: "1.0", RequestID: []byte("1"), Address: addr, Mechanism: "CURVE", Credentials: [][]byte{k[:]}}
}

// records reads back every audit record written so far.
func (e *env) records(t *testing.T) []audit.Record {
	t.Helper()
	files, _, err := audit.ResolvePaths([]string{filepath.Join(e.dir, "audit")})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	err = audit.Scan(files, audit.ScanOptions{}, func(en *audit.Entry) error {
		if !strings.HasPrefix(en.Record.Action, "audit.") {
			out = append(out, en.Record)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t, nil)
	a := New(e.chain)
	unknown, _ := certs.NewCert()
	cases := []struct {
		name   string
		req    *zap.Request
		status zap.Status
		reason string
		roles  string
	}{
		{"enrolled proxy from an allowed source", curveReq(e.keys["PROXY01$"], "127.0.0.1"), zap.StatusOK, "OK", "proxy"},
		{"proxy from a source outside its connect CIDR", curveReq(e.keys["PROXY01$"], "10.9.9.9"), zap.StatusDenied, ReasonPolicy, ""},
		{"server from anywhere", curveReq(e.keys["SERVER01$"], "10.9.9.9"), zap.StatusOK, "OK", "server"},
		{"quarantined: deny wins", curveReq(e.keys["QUAR$"], "127.0.0.1"), zap.StatusDenied, ReasonPolicy, ""},
		{"disabled account", curveReq(e.keys["OFF$"], "127.0.0.1"), zap.StatusDenied, ReasonDisabled, ""},
		{"no role", curveReq(e.keys["NOROLE$"], "127.0.0.1"), zap.StatusDenied, ReasonPolicy, ""},
		{"key bound, principal not in directory", curveReq(e.keys["GHOST$"], "127.0.0.1"), zap.StatusDenied, ReasonUnknownPrincipal, ""},
		{"unknown key", curveReq(unknown.Public, "127.0.0.1"), zap.StatusDenied, ReasonUnknownKey, ""},
		{"PLAIN mechanism", &zap.Request{Version: "1.0", Address: "127.0.0.1", Mechanism: "PLAIN", Credentials: [][]byte{[]byte("u"), []byte("p")}}, zap.StatusDenied, ReasonMechanism, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := a.Authenticate(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.StatusText != tc.reason {
				t.Fatalf("got %v %q, want %v %q", res.Status, res.StatusText, tc.status, tc.reason)
			}
			if res.Status == zap.StatusOK {
				if res.Properties[PropRoles] != tc.roles || res.Properties[PropKey] == "" || res.UserID == "" {
					t.Errorf("grant %+v", res)
				}
			} else if res.UserID != "" || len(res.Properties) != 0 {
				t.Errorf("refusal carries identity: %+v", res)
			}
		})
	}
	// Every decision left exactly one durable record, in order.
	recs := e.records(t)
	if len(recs) != len(cases) {
		t.Fatalf("%d audit records for %d decisions", len(recs), len(cases))
	}
	for i, tc := range cases {
		r := recs[i]
		wantOutcome := audit.OutcomeFailure
		if tc.status == zap.StatusOK {
			wantOutcome = audit.OutcomeSuccess
		}
		if r.Action != audit.ActionConnect || r.Outcome != wantOutcome {
			t.Errorf("%s: record %s %s", tc.name, r.Action, r.Outcome)
		}
		if tc.status != zap.StatusOK && r.Reason != tc.reason {
			t.Errorf("%s: record reason %q", tc.name, r.Reason)
		}
		if tc.status == zap.StatusOK && (r.Ruleset != "t1" || len(r.PolicyHash) != len("sha256:")+16 || r.RuleID == "" || len(r.Roles) == 0) {
			t.Errorf("%s: grant record lacks rule/roles: %+v", tc.name, r)
		}
	}
}

// failingDirectory is an unreachable directory.
type failingDirectory struct{}

func (failingDirectory) Lookup(context.Context, string) (idp.Identity, error) {
	return idp.Identity{}, errors.New("dial tcp 127.0.0.1:636: connection refused")
}

func TestDirectoryOutageIsTemporary(t *testing.T) {
	e := newEnv(t, nil)
	e.chain.Directory = failingDirectory{}
	res, err := New(e.chain).Authenticate(context.Background(), curveReq(e.keys["PROXY01$"], "127.0.0.1"))
	if err != nil || res.Status != zap.StatusTempFail || res.StatusText != ReasonDirectory {
		t.Fatalf("got %+v %v, want 300 %s", res, err, ReasonDirectory)
	}
}

// brokenAudit fails every append as an unwritable disk would.
type brokenAudit struct{ err error }

func (b brokenAudit) Append(context.Context, audit.Record) (audit.Receipt, error) {
	return audit.Receipt{}, b.err
}

func TestAuditUnavailableRefusesGrants(t *testing.T) {
	e := newEnv(t, nil)
	e.chain.Audit = brokenAudit{fmt.Errorf("audit: write: %w", audit.ErrUnavailable)}
	res, err := New(e.chain).Authenticate(context.Background(), curveReq(e.keys["PROXY01$"], "127.0.0.1"))
	if err != nil || res.Status != zap.StatusTempFail || res.StatusText != ReasonAudit || res.UserID != "" {
		t.Fatalf("got %+v %v, want 300 %s", res, err, ReasonAudit)
	}
	// Configured to fail open, the grant goes ahead (and the log is loud).
	e.chain.Audit = brokenAudit{fmt.Errorf("audit: write: %w", audit.ErrFailOpen)}
	res, err = New(e.chain).Authenticate(context.Background(), curveReq(e.keys["PROXY01$"], "127.0.0.1"))
	if err != nil || res.Status != zap.StatusOK {
		t.Fatalf("fail-open: got %+v %v, want 200", res, err)
	}
}

func TestRevocationTakesEffectAtNextHandshake(t *testing.T) {
	e := newEnv(t, nil)
	a := New(e.chain)
	req := curveReq(e.keys["PROXY01$"], "127.0.0.1")
	if res, _ := a.Authenticate(context.Background(), req); res.Status != zap.StatusOK {
		t.Fatalf("before revoke: %+v", res)
	}
	if _, _, err := certs.Revoke(e.reg.Dir(), "PROXY01$"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	res, _ := a.Authenticate(context.Background(), req)
	if res.Status != zap.StatusDenied || time.Now().After(deadline) {
		t.Fatalf("after revoke: %+v", res)
	}
}

// Issue 11 item 6: the refusal of a revoked key carried no principal.
func TestRevokedKeyRefusalNamesPrincipal(t *testing.T) {
	e := newEnv(t, nil)
	a := New(e.chain)
	req := curveReq(e.keys["PROXY01$"], "127.0.0.1")
	if _, _, err := certs.Revoke(e.reg.Dir(), "PROXY01$"); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.Reload(); err != nil {
		t.Fatal(err)
	}
	res, _ := a.Authenticate(context.Background(), req)
	if res.Status != zap.StatusDenied || res.StatusText != ReasonRevoked || res.UserID != "" {
		t.Fatalf("after revoke: %+v", res)
	}
	recs := e.records(t)
	last := recs[len(recs)-1]
	if last.Action != audit.ActionConnect || last.Reason != ReasonRevoked || last.User != "PROXY01$" {
		t.Fatalf("refusal record %+v; want key-revoked with user.name PROXY01$", last)
	}
}
