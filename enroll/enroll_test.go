package enroll

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
)

func TestEnrollBinds(t *testing.T) {
	h := newHarness(t, nil)
	status, body := h.do("GET", "/v1/enroll/config", nil, nil)
	if status != 200 || body["issuer"] != h.iss.URL() || body["client_id"] != testClientID || fmt.Sprint(body["scopes"]) != "[openid email groups]" {
		t.Errorf("config: %d %v", status, body)
	}
	key, fp := newKey(t)
	status, body = h.enroll("PROXY01$", key, h.iss.token(t, nil))
	if status != http.StatusCreated || body["status"] != "bound" || body["principal"] != "PROXY01$" || body["fingerprint"] != fp ||
		fmt.Sprint(body["approved_by"]) != "[alice@corp.example.com]" {
		t.Fatalf("enroll: %d %v", status, body)
	}
	if _, ok := body["approvals_required"]; ok {
		t.Errorf("bound answer carries approvals_required: %v", body)
	}
	bs := h.bindings()
	if len(bs) != 1 || bs[0].Principal != "PROXY01$" || bs[0].Key.String() != key || bs[0].Source != "enroll" ||
		!strings.Contains(bs[0].Note, "approved by alice@corp.example.com (iss "+h.iss.URL()+" sub 00u-alice, rule role:enroller:enroll#1)") {
		t.Fatalf("bindings: %+v", bs)
	}
	rec := h.rec.last(t)
	if rec.Action != "keys.enroll" || rec.Outcome != audit.OutcomeSuccess || rec.User != "alice@corp.example.com" || rec.Key != fp ||
		rec.RuleID != "role:enroller:enroll#1" || rec.Ruleset != "enroll-unit" || len(rec.PolicyHash) != len("sha256:")+16 || fmt.Sprint(rec.Groups) != "[okta:backup-admins]" ||
		!strings.HasPrefix(rec.Reason, `bound principal="PROXY01$" approvers="alice@corp.example.com" iss="`+h.iss.URL()+`" sub="00u-alice"`) ||
		!rec.SourceIP.IsLoopback() {
		t.Errorf("audit record: %+v", rec)
	}
	// The same key for the same principal again: nothing changes.
	status, body = h.enroll("PROXY01$", key, h.iss.token(t, nil))
	if status != http.StatusOK || body["status"] != "already-bound" || body["principal"] != "PROXY01$" {
		t.Errorf("again: %d %v", status, body)
	}
	if len(h.bindings()) != 1 || h.rec.last(t).Outcome != audit.OutcomeSuccess || !strings.HasPrefix(h.rec.last(t).Reason, "already-bound") {
		t.Errorf("again changed the registry or was not audited: %+v", h.rec.last(t))
	}
	// A second key for the same principal gets its own file.
	key2, _ := newKey(t)
	if status, body := h.enroll("PROXY01$", key2, h.iss.token(t, nil)); status != http.StatusCreated {
		t.Errorf("second key: %d %v", status, body)
	}
	if n := len(h.bindings()); n != 2 {
		t.Errorf("%d bindings, want 2", n)
	}
}

func TestTokenRefusals(t *testing.T) {
	h := newHarness(t, nil)
	key, fp := newKey(t)
	good := h.iss.token(t, nil)
	parts := strings.Split(good, ".")
	var c map[string]any
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(payload, &c)
	c["email"] = "mallory@corp.example.com"
	forged, _ := json.Marshal(c)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	otherIssuer := newTestIssuer(t)
	cases := []struct{ name, token, msg string }{
		{"expired", h.iss.token(t, claims{"exp": time.Now().Add(-time.Hour).Unix()}), "expired: the ID token expired at"},
		{"audience", h.iss.token(t, claims{"aud": "another-client"}), "audience: "},
		{"issuer", h.iss.token(t, claims{"iss": "http://127.0.0.1:1/other"}), "issuer: "},
		{"tampered", tampered, "signature: "},
		{"other provider's key", otherIssuer.token(t, claims{"iss": h.iss.URL()}), "signature: "},
		{"malformed", "not-a-jwt", "malformed: "},
		{"empty", "", "malformed: "},
		{"no email", h.iss.token(t, claims{"email": nil}), "claims: the token's email claim"},
		{"unverified email", h.iss.token(t, claims{"email_verified": false}), "claims: the token's email is not verified"},
		{"groups not strings", h.iss.token(t, claims{"groups": []any{1, 2}}), "claims: the token's groups claim"},
	}
	for _, tc := range cases {
		n := h.rec.count()
		status, body := h.enroll("PROXY01$", key, tc.token)
		wantError(t, tc.name, status, body, http.StatusUnauthorized, "invalid-token", tc.msg)
		rec := h.rec.last(t)
		if h.rec.count() != n+1 || rec.Outcome != audit.OutcomeFailure || !strings.HasPrefix(rec.Reason, `invalid-token principal="PROXY01$"`) ||
			rec.Key != fp || rec.User != "" {
			t.Errorf("%s: audit %+v", tc.name, rec)
		}
	}
	if bs := h.bindings(); len(bs) != 0 {
		t.Errorf("refused tokens bound keys: %+v", bs)
	}
	// The good token was never used: it still works.
	if status, body := h.enroll("PROXY01$", key, good); status != http.StatusCreated {
		t.Errorf("good token: %d %v", status, body)
	}
}

func TestKeyRotation(t *testing.T) {
	h := newHarness(t, nil)
	k1, _ := newKey(t)
	if status, body := h.enroll("PROXY01$", k1, h.iss.token(t, nil)); status != http.StatusCreated {
		t.Fatalf("before rotation: %d %v", status, body)
	}
	old := h.iss.token(t, nil)
	h.iss.rotate(t)
	k2, _ := newKey(t)
	if status, body := h.enroll("PROXY02$", k2, h.iss.token(t, nil)); status != http.StatusCreated {
		t.Fatalf("token signed with the rotated key (unknown kid): %d %v", status, body)
	}
	h.iss.mu.Lock()
	hits := h.iss.jwksHits
	h.iss.mu.Unlock()
	if hits < 2 {
		t.Errorf("JWKS fetched %d times; the unknown kid should refetch it", hits)
	}
	k3, _ := newKey(t)
	status, body := h.enroll("PROXY01$", k3, old)
	wantError(t, "retired key", status, body, http.StatusUnauthorized, "invalid-token", "signature: ")
}

func TestReplay(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.iss.token(t, nil)
	k1, _ := newKey(t)
	if status, body := h.enroll("PROXY01$", k1, tok); status != http.StatusCreated {
		t.Fatalf("first use: %d %v", status, body)
	}
	k2, fp2 := newKey(t)
	status, body := h.enroll("PROXY02$", k2, tok)
	wantError(t, "second use", status, body, http.StatusConflict, "token-replayed", "already used")
	if rec := h.rec.last(t); !strings.HasPrefix(rec.Reason, "token-replayed") || rec.Key != fp2 || rec.User != "alice@corp.example.com" {
		t.Errorf("audit: %+v", rec)
	}
	h.restart()
	status, body = h.enroll("PROXY02$", k2, tok)
	wantError(t, "after restart", status, body, http.StatusConflict, "token-replayed", "already used")
	status, body = h.approve("SHA256:AAAAAAAAAAAAAAAA", tok)
	wantError(t, "as an approval", status, body, http.StatusConflict, "token-replayed", "")

	// Concurrent uses of one token: exactly one wins.
	tok = h.iss.token(t, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 8; i++ {
		k, _ := newKey(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := h.enroll("REPO01$", k, tok)
			mu.Lock()
			codes[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusCreated] != 1 || codes[http.StatusConflict] != 7 {
		t.Errorf("concurrent uses: %v", codes)
	}
}

func TestReplayStoreDamaged(t *testing.T) {
	h := newHarness(t, nil)
	if err := os.WriteFile(filepath.Join(h.opts.StateDir, stateFile), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(h.opts); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged state accepted: %v", err)
	}
}

func TestKeyBoundElsewhere(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := newKey(t)
	if status, body := h.enroll("PROXY01$", key, h.iss.token(t, nil)); status != http.StatusCreated {
		t.Fatalf("bind: %d %v", status, body)
	}
	status, body := h.enroll("PROXY02$", key, h.iss.token(t, nil))
	wantError(t, "other principal", status, body, http.StatusConflict, "key-bound", "already bound to another principal")
	if _, _, err := certs.Revoke(h.registry, "PROXY01$"); err != nil {
		t.Fatal(err)
	}
	status, body = h.enroll("PROXY01$", key, h.iss.token(t, nil))
	wantError(t, "revoked", status, body, http.StatusConflict, "key-bound", "was revoked")
	if len(h.bindings()) != 0 {
		t.Errorf("bindings: %+v", h.bindings())
	}
}

func TestPrincipalChecks(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := newKey(t)
	status, body := h.enroll("PROXY77$", key, h.iss.token(t, nil))
	wantError(t, "unknown", status, body, http.StatusNotFound, "unknown-principal", `"PROXY77$"`)
	status, body = h.enroll("PROXY09$", key, h.iss.token(t, nil))
	wantError(t, "disabled", status, body, http.StatusForbidden, "principal-disabled", "disabled")
	if rec := h.rec.last(t); !strings.HasPrefix(rec.Reason, `principal-disabled principal="PROXY09$"`) {
		t.Errorf("audit: %+v", rec)
	}
	// An outage decides nothing: the same token works once it is over.
	h.dir.setDown(true)
	tok := h.iss.token(t, nil)
	status, body = h.enroll("PROXY01$", key, tok)
	wantError(t, "outage", status, body, http.StatusServiceUnavailable, "directory-unavailable", "try again")
	h.dir.setDown(false)
	if status, body := h.enroll("PROXY01$", key, tok); status != http.StatusCreated {
		t.Errorf("after the outage: %d %v", status, body)
	}
}

func TestPolicyForbidden(t *testing.T) {
	h := newHarness(t, nil)
	key, fp := newKey(t)
	status, body := h.enroll("DC01$", key, h.iss.token(t, nil))
	wantError(t, "no grant", status, body, http.StatusForbidden, "forbidden", "default-deny")
	status, body = h.enroll("PROXY01$", key, h.iss.token(t, claims{"groups": []string{"backup-admins", "contractors"}}))
	wantError(t, "deny rule", status, body, http.StatusForbidden, "forbidden", `deny#1 "actions enroll" reason "contractors never enroll" (policy.yaml:11)`)
	rec := h.rec.last(t)
	if rec.RuleID != "deny#1" || rec.Outcome != audit.OutcomeFailure || rec.Key != fp || !strings.HasPrefix(rec.Reason, "forbidden") {
		t.Errorf("audit: %+v", rec)
	}
	status, body = h.enroll("PROXY01$", key, h.iss.token(t, claims{"groups": nil}))
	wantError(t, "no groups", status, body, http.StatusForbidden, "forbidden", "default-deny")
	if len(h.bindings()) != 0 {
		t.Error("forbidden enrollment bound a key")
	}
	// The policy is asked before the directory: a person who may not
	// enroll a principal cannot learn whether it exists or is disabled.
	for _, p := range []string{"DC77$", "PROXY77$", "PROXY09$"} {
		status, body = h.enroll(p, key, h.iss.token(t, claims{"groups": nil}))
		wantError(t, "probe "+p, status, body, http.StatusForbidden, "forbidden", "default-deny")
	}
}

func TestSecondApproval(t *testing.T) {
	h := newHarness(t, nil)
	key, fp := newKey(t)
	status, body := h.enroll("svc-backup@corp.example.com", key, h.iss.token(t, nil))
	if status != http.StatusAccepted || body["status"] != "pending" || body["approvals_required"] != 2.0 ||
		fmt.Sprint(body["approved_by"]) != "[alice@corp.example.com]" || body["fingerprint"] != fp {
		t.Fatalf("first approval: %d %v", status, body)
	}
	if len(h.bindings()) != 0 {
		t.Fatal("bound after one approval")
	}
	if rec := h.rec.last(t); rec.Outcome != audit.OutcomeUnknown || !strings.HasPrefix(rec.Reason, "pending") {
		t.Errorf("audit: %+v", rec)
	}
	h.restart() // a pending request survives a restart

	bob := claims{"sub": "00u-bob", "email": "bob@corp.example.com"}
	status, body = h.do("GET", "/v1/enroll/pending", nil, map[string]string{"Authorization": "Bearer " + h.iss.token(t, bob)})
	list, _ := body["pending"].([]any)
	if status != 200 || len(list) != 1 || list[0].(map[string]any)["fingerprint"] != fp || list[0].(map[string]any)["approvals_required"] != 2.0 {
		t.Errorf("pending: %d %v", status, body)
	}
	status, body = h.do("GET", "/v1/enroll/pending", nil, map[string]string{"Authorization": "Bearer " + h.iss.token(t, claims{"groups": nil})})
	if list, _ := body["pending"].([]any); status != 200 || len(list) != 0 {
		t.Errorf("pending for someone without the grant: %d %v", status, body)
	}
	status, body = h.do("GET", "/v1/enroll/pending", nil, nil)
	wantError(t, "pending without a token", status, body, http.StatusUnauthorized, "invalid-token", "Bearer")

	status, body = h.approve(fp, h.iss.token(t, nil))
	wantError(t, "same person", status, body, http.StatusConflict, "same-approver", "different person")
	status, body = h.approve(fp, h.iss.token(t, claims{"sub": "00u-other", "email": "ALICE@corp.example.com"}))
	wantError(t, "same name", status, body, http.StatusConflict, "same-approver", "")
	status, body = h.approve(fp, h.iss.token(t, claims{"sub": "00u-eve", "email": "eve@corp.example.com", "groups": []string{"contractors"}}))
	wantError(t, "not allowed", status, body, http.StatusForbidden, "forbidden", "deny#1")
	status, body = h.approve("SHA256:AAAAAAAAAAAAAAAA", h.iss.token(t, bob))
	wantError(t, "unknown fingerprint", status, body, http.StatusNotFound, "not-pending", "")

	status, body = h.approve(fp, h.iss.token(t, bob))
	if status != http.StatusCreated || body["status"] != "bound" || fmt.Sprint(body["approved_by"]) != "[alice@corp.example.com bob@corp.example.com]" {
		t.Fatalf("second approval: %d %v", status, body)
	}
	bs := h.bindings()
	if len(bs) != 1 || bs[0].Principal != "svc-backup@corp.example.com" || !strings.Contains(bs[0].Note, "alice@corp.example.com") ||
		!strings.Contains(bs[0].Note, "bob@corp.example.com") {
		t.Errorf("bindings: %+v", bs)
	}
	rec := h.rec.last(t)
	if rec.Action != "keys.approve" || rec.Outcome != audit.OutcomeSuccess || rec.User != "bob@corp.example.com" ||
		!strings.Contains(rec.Reason, `approvers="alice@corp.example.com, bob@corp.example.com"`) {
		t.Errorf("audit: %+v", rec)
	}
	status, body = h.approve(fp, h.iss.token(t, claims{"sub": "00u-carol", "email": "carol@corp.example.com"}))
	wantError(t, "after binding", status, body, http.StatusNotFound, "not-pending", "")
}

func TestSecondApprovalByEnroll(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := newKey(t)
	if status, body := h.enroll("svc-backup@corp.example.com", key, h.iss.token(t, nil)); status != http.StatusAccepted {
		t.Fatalf("first: %d %v", status, body)
	}
	status, body := h.enroll("PROXY01$", key, h.iss.token(t, claims{"sub": "00u-bob", "email": "bob@corp.example.com"}))
	wantError(t, "same key, other principal", status, body, http.StatusConflict, "key-bound", "waits for approval for another principal")
	status, body = h.enroll("svc-backup@corp.example.com", key, h.iss.token(t, nil))
	wantError(t, "same person again", status, body, http.StatusConflict, "same-approver", "")
	status, body = h.enroll("svc-backup@corp.example.com", key, h.iss.token(t, claims{"sub": "00u-bob", "email": "bob@corp.example.com"}))
	if status != http.StatusCreated || fmt.Sprint(body["approved_by"]) != "[alice@corp.example.com bob@corp.example.com]" {
		t.Errorf("second person enrolling the same key: %d %v", status, body)
	}
}

func TestPendingExpires(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	h := newHarness(t, func(o *Options) {
		o.PendingTTL = time.Hour
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	key, fp := newKey(t)
	if status, body := h.enroll("svc-backup@corp.example.com", key, h.iss.token(t, nil)); status != http.StatusAccepted {
		t.Fatalf("first: %d %v", status, body)
	}
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	tok := h.iss.token(t, claims{"sub": "00u-bob", "email": "bob@corp.example.com", "exp": now.Add(10 * time.Minute).Unix()})
	status, body := h.approve(fp, tok)
	wantError(t, "expired request", status, body, http.StatusNotFound, "not-pending", "")
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := newKey(t)
	tok := h.iss.token(t, nil)
	cases := []struct{ name, path, body, msg string }{
		{"not JSON", "/v1/enroll", "{", "not the expected JSON object"},
		{"unknown field", "/v1/enroll", `{"principal":"PROXY01$","public_key":"` + key + `","id_token":"x","admin":true}`, `unknown field "admin"`},
		{"two values", "/v1/enroll", `{"principal":"PROXY01$"} {}`, "more than one JSON value"},
		{"array", "/v1/enroll", `[]`, "not the expected JSON object"},
		{"oversized", "/v1/enroll", `{"principal":"` + strings.Repeat("A", MaxBodyBytes) + `"}`, "larger than 65536 bytes"},
		{"bad key", "/v1/enroll", `{"principal":"PROXY01$","public_key":"short","id_token":"` + tok + `"}`, "public_key must be a CURVE public key"},
		{"zero key", "/v1/enroll", `{"principal":"PROXY01$","public_key":"0000000000000000000000000000000000000000","id_token":"` + tok + `"}`, "public_key"},
		{"empty principal", "/v1/enroll", `{"principal":"","public_key":"` + key + `","id_token":"` + tok + `"}`, "principal is empty"},
		{"wildcard principal", "/v1/enroll", `{"principal":"PROXY*","public_key":"` + key + `","id_token":"` + tok + `"}`, "principal contains '*'"},
		{"bad fingerprint", "/v1/enroll/approve", `{"fingerprint":"abc","id_token":"` + tok + `"}`, "fingerprint must look like"},
	}
	for _, c := range cases {
		n := h.rec.count()
		status, body := h.do("POST", c.path, strings.NewReader(c.body), nil)
		wantError(t, c.name, status, body, http.StatusBadRequest, "bad-request", c.msg)
		if h.rec.count() != n+1 || !strings.HasPrefix(h.rec.last(t).Reason, "bad-request") {
			t.Errorf("%s: not audited", c.name)
		}
	}
	// None of them used the token up.
	if status, body := h.enroll("PROXY01$", key, tok); status != http.StatusCreated {
		t.Errorf("token after bad requests: %d %v", status, body)
	}
}

func TestAuditUnavailable(t *testing.T) {
	h := newHarness(t, nil)
	key, _ := newKey(t)
	tok := h.iss.token(t, nil)
	h.rec.setFail(fmt.Errorf("audit: %w: %w", audit.ErrUnavailable, errDiskFull))
	status, body := h.enroll("PROXY01$", key, tok)
	wantError(t, "audit down", status, body, http.StatusServiceUnavailable, "audit-unavailable", "not bound")
	if len(h.bindings()) != 0 {
		t.Fatal("bound without an audit record")
	}
	h.rec.setFail(nil)
	if status, body := h.enroll("PROXY01$", key, tok); status != http.StatusCreated {
		t.Errorf("after the audit recovered, the same token: %d %v", status, body)
	}
	// fail_open lets the grant go ahead.
	h.rec.setFail(fmt.Errorf("audit: %w: %w", audit.ErrUnavailable, audit.ErrFailOpen))
	k2, _ := newKey(t)
	if status, body := h.enroll("PROXY02$", k2, h.iss.token(t, nil)); status != http.StatusCreated {
		t.Errorf("fail open: %d %v", status, body)
	}
}

func TestGroupsFromDirectory(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.GroupsFromDirectory = true })
	key, _ := newKey(t)
	carol := claims{"sub": "00u-carol", "email": "carol@corp.example.com", "groups": nil}
	if status, body := h.enroll("PROXY01$", key, h.iss.token(t, carol)); status != http.StatusCreated {
		t.Fatalf("carol: %d %v", status, body)
	}
	// Alice's token claims the group, but the directory does not know her.
	k2, _ := newKey(t)
	status, body := h.enroll("PROXY02$", k2, h.iss.token(t, nil))
	wantError(t, "not in directory", status, body, http.StatusForbidden, "forbidden", "not in the directory")
	status, body = h.enroll("PROXY02$", k2, h.iss.token(t, claims{"sub": "00u-dave", "email": "dave@corp.example.com"}))
	wantError(t, "disabled person", status, body, http.StatusForbidden, "forbidden", "disabled")
}

func TestProviderUnavailable(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.iss.token(t, nil)
	h.iss.srv.Close()
	key, _ := newKey(t)
	status, body := h.enroll("PROXY01$", key, tok)
	wantError(t, "provider down", status, body, http.StatusServiceUnavailable, "provider-unavailable", "try again")
}

func TestNewRefusesBadOptions(t *testing.T) {
	h := newHarness(t, nil)
	o := h.opts
	o.Registry = ""
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "keys.source directory") {
		t.Errorf("no registry: %v", err)
	}
	o = h.opts
	o.ClientID = ""
	if _, err := New(o); err == nil {
		t.Error("no client id accepted")
	}
}

// FuzzEnrollBody feeds arbitrary bodies to POST /v1/enroll and
// /v1/enroll/approve: never a panic, never a binding, always a JSON
// refusal with a known code.
func FuzzEnrollBody(f *testing.F) {
	key := "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	f.Add([]byte(`{"principal":"PROXY01$","public_key":"`+key+`","id_token":"a.b.c"}`), false)
	f.Add([]byte(`{"principal":"PROXY01$","public_key":"`+key+`","id_token":"a.b.c","challenge":"AAECAwQFBgcICQoLDA0ODw","proof":"zQYglYG1NIUesjke0LeejtxXhJhoFScPZk9Gc0zy8jI"}`), false)
	f.Add([]byte(`{"fingerprint":"SHA256:AAAAAAAAAAAAAAAA","id_token":"x"}`), true)
	f.Add([]byte(`{"principal":"PROXY01$"}{}`), false)
	f.Add([]byte(`null`), true)
	f.Fuzz(func(t *testing.T, body []byte, approve bool) {
		h := newHarness(t, nil)
		path := "/v1/enroll"
		if approve {
			path = "/v1/enroll/approve"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.svc.Handler().ServeHTTP(w, req)
		var e wire.ErrorResponse
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%d, not JSON: %q", w.Code, w.Body.Bytes())
		}
		known := map[string]int{wire.CodeBadRequest: 400, wire.CodeInvalidToken: 401, wire.CodeInvalidProof: 401, wire.CodeNotPending: 404}
		if want, ok := known[e.Error]; !ok || want != w.Code {
			t.Fatalf("%d %+v for %q", w.Code, e, body)
		}
		if len(h.bindings()) != 0 {
			t.Fatal("a fuzzed body bound a key")
		}
	})
}
