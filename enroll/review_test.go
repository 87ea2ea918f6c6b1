package enroll

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// flipSpareBits returns seg with the unused low bits of its last base64url
// character changed: it decodes (non-strictly) to the same bytes.
func flipSpareBits(t *testing.T, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		t.Fatalf("segment of %d characters has no spare bits", len(seg))
	}
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[i^1])
}

// negateS returns an ES256 signature segment with s replaced by n-s: a
// second valid signature of the same content, made without the key.
func negateS(t *testing.T, seg string) string {
	t.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil || len(sig) != 64 {
		t.Fatalf("ES256 signature: %v (%d bytes)", err, len(sig))
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	out := append([]byte(nil), sig[:32]...)
	out = append(out, s.FillBytes(make([]byte, 32))...)
	return base64.RawURLEncoding.EncodeToString(out)
}

// A used ID token stays used when it is re-encoded: other spellings of
// its signature or payload verify just the same, so they must not be
// new tokens for the single-use check.
func TestReplayOfReencodedToken(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.iss.token(t, nil)
	k1, _ := newKey(t)
	if status, body := h.enroll("PROXY01$", k1, tok); status != http.StatusCreated {
		t.Fatalf("first use: %d %v", status, body)
	}
	parts := strings.Split(tok, ".")
	variants := map[string]string{
		"signature spare bits": parts[0] + "." + parts[1] + "." + flipSpareBits(t, parts[2]),
		"ecdsa s negated":      parts[0] + "." + parts[1] + "." + negateS(t, parts[2]),
	}
	if len(parts[1])%4 != 0 {
		variants["payload spare bits"] = parts[0] + "." + flipSpareBits(t, parts[1]) + "." + parts[2]
	}
	for name, v := range variants {
		if v == tok {
			t.Fatalf("%s: variant equals the token", name)
		}
		k, _ := newKey(t)
		status, body := h.enroll("PROXY02$", k, v)
		wantError(t, name, status, body, http.StatusConflict, "token-replayed", "already used")
	}
	if n := len(h.bindings()); n != 1 {
		t.Errorf("%d bindings from one token; want 1", n)
	}
}

// A token issued to another client that merely lists zapgate among its
// audiences is not zapgate's: azp must name zapgate's client when present,
// and must be present when there are several audiences.
func TestAuthorizedParty(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		name string
		c    claims
		ok   bool
	}{
		{"two audiences, no azp", claims{"aud": []string{"other-app", testClientID}}, false},
		{"azp of another client", claims{"azp": "other-app"}, false},
		{"two audiences, azp is zapgate", claims{"aud": []string{testClientID, "other-app"}, "azp": testClientID}, true},
		{"one audience, azp is zapgate", claims{"azp": testClientID}, true},
	}
	for _, c := range cases {
		k, _ := newKey(t)
		status, body := h.enroll("PROXY01$", k, h.iss.token(t, c.c))
		if c.ok {
			if status != http.StatusCreated {
				t.Errorf("%s: %d %v", c.name, status, body)
			}
			continue
		}
		wantError(t, c.name, status, body, http.StatusUnauthorized, "invalid-token", "audience:")
	}
}

// The provider's keys decide every signature: fetched over plain HTTP,
// anyone on the path could substitute their own. An https issuer's
// jwks_uri must be https too.
func TestJWKSMustBeHTTPS(t *testing.T) {
	keys := newTestIssuer(t) // serves the keys over plain http
	var issuer string
	disc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "jwks_uri": keys.URL() + "/jwks", "authorization_endpoint": issuer + "/auth",
			"token_endpoint": issuer + "/token", "id_token_signing_alg_values_supported": []string{"ES256"},
		})
	}))
	t.Cleanup(disc.Close)
	issuer = disc.URL
	h := newHarness(t, func(o *Options) { o.Issuer = issuer; o.HTTPClient = disc.Client() })
	k, _ := newKey(t)
	status, body := h.enroll("PROXY01$", k, keys.token(t, claims{"iss": issuer}))
	wantError(t, "http jwks_uri", status, body, http.StatusServiceUnavailable, "provider-unavailable", "")
	if len(h.bindings()) != 0 {
		t.Errorf("bound with keys fetched over http: %+v", h.bindings())
	}
}

// A refusal of a bad request names the principal in the audit record, but
// an unchecked principal is bounded there: nobody fills the audit log
// with 64 KiB records.
func TestBadPrincipalBoundedInAudit(t *testing.T) {
	h := newHarness(t, nil)
	k, _ := newKey(t)
	status, body := h.enroll(strings.Repeat("A", 60000)+"*", k, h.iss.token(t, nil))
	wantError(t, "long principal", status, body, http.StatusBadRequest, "bad-request", "principal")
	rec := h.rec.last(t)
	if !strings.HasPrefix(rec.Reason, "bad-request") || len(rec.Reason) > 1024 || !strings.Contains(rec.Reason, `principal="AAAA`) {
		t.Errorf("audit reason of %d bytes: %.200q", len(rec.Reason), rec.Reason)
	}
}

// When forgetting a used token cannot be saved, the token stays used in
// memory too (fail closed), as it stays used on disk.
func TestReleaseFailureKeepsTokenUsed(t *testing.T) {
	dir := t.TempDir()
	st, err := openStore(dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if fresh, err := st.consume("h1", time.Now().Add(time.Hour)); !fresh || err != nil {
		t.Fatalf("consume: %v %v", fresh, err)
	}
	// The state file becomes a non-empty directory: every save fails.
	path := filepath.Join(dir, stateFile)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	st.release("h1")
	// Saving works again (the disk recovered): the token is still used.
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if fresh, err := st.consume("h1", time.Now().Add(time.Hour)); fresh || err != nil {
		t.Errorf("a token whose release was not saved can be used again (fresh %v, error %v)", fresh, err)
	}
}

// Tokens naming made-up key IDs (anyone can send them) cause a bounded
// number of fetches of the provider's keys; a known key ID with a bad
// signature causes none.
func TestForgedTokensDoNotHammerTheProvider(t *testing.T) {
	h := newHarness(t, nil)
	k, _ := newKey(t)
	if status, body := h.enroll("PROXY01$", k, h.iss.token(t, nil)); status != http.StatusCreated {
		t.Fatalf("enroll: %d %v", status, body)
	}
	hits := func() int {
		h.iss.mu.Lock()
		defer h.iss.mu.Unlock()
		return h.iss.jwksHits
	}
	before := hits()
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h.iss.mu.Lock()
	kid := h.iss.kid
	h.iss.mu.Unlock()
	for i := 0; i < 20; i++ {
		forged := signToken(t, other, fmt.Sprintf("made-up-%d", i), h.iss.fill(nil))
		status, body := h.enroll("PROXY02$", k, forged)
		wantError(t, "forged", status, body, http.StatusUnauthorized, "invalid-token", "signature:")
		forged = signToken(t, other, kid, h.iss.fill(nil))
		status, body = h.enroll("PROXY02$", k, forged)
		wantError(t, "forged, known kid", status, body, http.StatusUnauthorized, "invalid-token", "signature:")
	}
	if n := hits() - before; n > keyFetchBurst {
		t.Errorf("40 forged tokens caused %d fetches of the provider's keys; want at most %d", n, keyFetchBurst)
	}
}

// A redirect of a key fetch from https to plain http is refused.
func TestKeyFetchRedirectToHTTPRefused(t *testing.T) {
	keys := newTestIssuer(t) // serves the keys over plain http
	var issuer string
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "jwks_uri": issuer + "/jwks", "authorization_endpoint": issuer + "/auth",
			"token_endpoint": issuer + "/token", "id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, keys.URL()+"/jwks", http.StatusFound)
	})
	disc := httptest.NewTLSServer(mux)
	t.Cleanup(disc.Close)
	issuer = disc.URL
	h := newHarness(t, func(o *Options) { o.Issuer = issuer; o.HTTPClient = disc.Client() })
	k, _ := newKey(t)
	status, body := h.enroll("PROXY01$", k, keys.token(t, claims{"iss": issuer}))
	wantError(t, "jwks redirected to http", status, body, http.StatusServiceUnavailable, "provider-unavailable", "")
	if disc.Client().CheckRedirect != nil {
		t.Error("New changed the caller's HTTP client")
	}
}

// Names carry no character a terminal acts on or that disguises them:
// C1 controls and bidirectional overrides are refused like C0 controls.
func TestNamesRefuseUnicodeControls(t *testing.T) {
	h := newHarness(t, nil)
	for _, p := range []string{"PROXY01\u0085$", "PROXY01\u202e$", "PROXY\u2028$"} {
		k, _ := newKey(t)
		status, body := h.enroll(p, k, h.iss.token(t, nil))
		wantError(t, fmt.Sprintf("principal %q", p), status, body, http.StatusBadRequest, "bad-request", "control character")
	}
	k, _ := newKey(t)
	status, body := h.enroll("PROXY01$", k, h.iss.token(t, claims{"email": "alice\u202e@corp.example.com"}))
	wantError(t, "person name", status, body, http.StatusUnauthorized, "invalid-token", "claims:")
}

// A state file written before the replay key became the hash of the
// signed claims (it holds hashes of raw tokens) still blocks those tokens.
func TestReplayKeyOfEarlierStateHonoured(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.iss.token(t, nil)
	sum := sha256.Sum256([]byte(tok))
	doc := stateDoc{Version: 1, Used: map[string]time.Time{hex.EncodeToString(sum[:]): time.Now().Add(time.Hour)}, Pending: []*Pending{}}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.opts.StateDir, stateFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	h.restart()
	k, _ := newKey(t)
	status, body := h.enroll("PROXY01$", k, tok)
	wantError(t, "token used before the upgrade", status, body, http.StatusConflict, "token-replayed", "already used")
}
