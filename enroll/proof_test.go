package enroll

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/enroll/wire"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/enrollclient"
)

// A fixed vector of the proof, computed outside Go (Python's
// cryptography X25519 and hmac, pyzmq's Z85); enrollclient's tests check
// the same vector.
const (
	vecServerSecret = "0rJua1Qkhq2)}4G4gS)W5Ft->6=4P585:Cl9uDpB" // bytes 1..32
	vecServerKey    = "2CVWV6D&QXW]Ii55A)@qco1MAyn+7#3/w+9Xnrjk"
	vecNodeKey      = "r$]?G5O}bKhM?emC%9YjTR?kWN-cTl1&]RpI:m+f" // secret: bytes 101..132
	vecChallenge    = "AAECAwQFBgcICQoLDA0ODw"
	vecPrincipal    = "PROXY01$"
	vecToken        = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
	vecProof        = "zQYglYG1NIUesjke0LeejtxXhJhoFScPZk9Gc0zy8jI"
)

// lowOrder are encodings of points of small order on Curve25519 (and
// non-canonical encodings of them): X25519 with any of them gives the
// all-zero shared secret, which anybody knows.
var lowOrder = []string{
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func lowOrderKey(t *testing.T, h string) certs.PublicKey {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		t.Fatalf("low-order point %s: %v", h, err)
	}
	var k certs.PublicKey
	copy(k[:], b)
	return k
}

// zeroKeyProof is the proof anybody can make for a low-order key: the
// HMAC keyed by the all-zero shared secret.
func zeroKeyProof(challenge, principal, key, token string) string {
	mac := hmac.New(sha256.New, make([]byte, 32))
	mac.Write(wire.ProofMessage(challenge, principal, key, token))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifyProofVector(t *testing.T) {
	ss, err := certs.ParseSecretKey(vecServerSecret)
	if err != nil {
		t.Fatal(err)
	}
	if pub, _ := ss.Public(); pub.String() != vecServerKey {
		t.Fatalf("server key %s, want %s", pub, vecServerKey)
	}
	node, err := certs.ParsePublicKey(vecNodeKey)
	if err != nil {
		t.Fatal(err)
	}
	if !VerifyProof(ss, node, vecChallenge, vecPrincipal, vecToken, vecProof) {
		t.Fatal("the fixed vector does not verify")
	}
	if !VerifyProof(ss, node, vecChallenge, vecPrincipal, vecToken, vecProof+"=") {
		t.Error("the padded proof does not verify")
	}
	other, _ := certs.ParsePublicKey(vecServerKey)
	for name, ok := range map[string]bool{
		"other principal": VerifyProof(ss, node, vecChallenge, "PROXY02$", vecToken, vecProof),
		"other token":     VerifyProof(ss, node, vecChallenge, vecPrincipal, vecToken+"x", vecProof),
		"other challenge": VerifyProof(ss, node, "AAECAwQFBgcICQoLDA0ODx", vecPrincipal, vecToken, vecProof),
		"other key":       VerifyProof(ss, other, vecChallenge, vecPrincipal, vecToken, vecProof),
		"not base64url":   VerifyProof(ss, node, vecChallenge, vecPrincipal, vecToken, "zQYglYG1NIUesjke0LeejtxXhJhoFScPZk9Gc0zy8j+"),
		"short":           VerifyProof(ss, node, vecChallenge, vecPrincipal, vecToken, vecProof[:40]),
		"empty":           VerifyProof(ss, node, vecChallenge, vecPrincipal, vecToken, ""),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}
	for _, lo := range lowOrder {
		k := lowOrderKey(t, lo)
		if VerifyProof(ss, k, vecChallenge, vecPrincipal, vecToken, zeroKeyProof(vecChallenge, vecPrincipal, k.String(), vecToken)) {
			t.Errorf("low-order node key %s verified with the all-zero shared secret", lo)
		}
	}
}

// The client refuses a broker's low-order server_key: the proof would be
// keyed by a secret anybody knows.
func TestClientRefusesLowOrderServerKey(t *testing.T) {
	_, sec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	for _, lo := range lowOrder {
		ch := enrollclient.Challenge{Challenge: vecChallenge, ServerKey: lowOrderKey(t, lo).String()}
		if p, err := enrollclient.Proof(sec, ch, vecPrincipal, vecToken); err == nil || !strings.Contains(err.Error(), "low-order") {
			t.Errorf("server key %s: proof %q, error %v", lo, p, err)
		}
	}
}

func TestChallengeEndpoint(t *testing.T) {
	now := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	h := newHarness(t, func(o *Options) { o.Now = func() time.Time { return now } })
	status, body := h.do("GET", "/v1/enroll/challenge", nil, nil)
	if status != http.StatusOK || body["expires_at"] != "2026-11-25T21:05:00Z" {
		t.Fatalf("challenge: %d %v", status, body)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body["challenge"].(string))
	if err != nil || len(raw) != 16 {
		t.Errorf("challenge %q: %d bytes, %v", body["challenge"], len(raw), err)
	}
	if k, err := certs.ParsePublicKey(body["server_key"].(string)); err != nil || k.IsZero() {
		t.Errorf("server_key %q: %v", body["server_key"], err)
	}
	if len(body) != 3 {
		t.Errorf("unexpected fields: %v", body)
	}
	if again := h.challenge(); again.Challenge == body["challenge"] || again.ServerKey == body["server_key"] {
		t.Errorf("two challenges share a value: %v and %+v", body, again)
	}
}

// Each bad proof is refused with invalid-proof before the token is
// looked at: the token is not spent, every refusal is audited, nothing is
// bound; then the same token binds with a good proof.
func TestProofRefusals(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h := newHarness(t, func(o *Options) { o.Now = clock })
	key, fp := newKey(t)
	v, _ := testSecrets.Load(key)
	sec := v.(certs.SecretKey)
	_, otherSec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	tok, tok2 := h.iss.token(t, nil), h.iss.token(t, claims{"nonce": "second"})
	const principal = "PROXY01$"
	req := func(ch, proof string) wire.EnrollRequest {
		return wire.EnrollRequest{Principal: principal, PublicKey: key, IDToken: tok, Challenge: ch, Proof: proof}
	}
	const noMatch, unknown = "proof does not match the key", "unknown or expired challenge"
	used := h.challenge()
	expiring := h.challenge()
	cases := []struct {
		name string
		req  func() wire.EnrollRequest
		msg  string
	}{
		{"another key's proof", func() wire.EnrollRequest {
			ch := h.challenge()
			return req(ch.Challenge, h.proof(otherSec, ch, principal, tok))
		}, noMatch},
		{"proof for another principal", func() wire.EnrollRequest {
			ch := h.challenge()
			return req(ch.Challenge, h.proof(sec, ch, "PROXY02$", tok))
		}, noMatch},
		{"proof for another token", func() wire.EnrollRequest {
			ch := h.challenge()
			return req(ch.Challenge, h.proof(sec, ch, principal, tok2))
		}, noMatch},
		{"proof for another challenge", func() wire.EnrollRequest {
			ch, ch2 := h.challenge(), h.challenge()
			return req(ch.Challenge, h.proof(sec, ch2, principal, tok))
		}, noMatch},
		{"garbage proof", func() wire.EnrollRequest { return req(h.challenge().Challenge, "!!not base64!!") }, noMatch},
		// The first use of a challenge fails (wrong key)...
		{"first use of a challenge", func() wire.EnrollRequest {
			return req(used.Challenge, h.proof(otherSec, used, principal, tok))
		}, noMatch},
		// ...and used it up: a good proof for it no longer counts.
		{"reused challenge", func() wire.EnrollRequest {
			return req(used.Challenge, h.proof(sec, used, principal, tok))
		}, unknown},
		{"expired challenge", func() wire.EnrollRequest {
			advance(ChallengeTTL)
			return req(expiring.Challenge, h.proof(sec, expiring, principal, tok))
		}, unknown},
		{"unknown challenge", func() wire.EnrollRequest {
			ch := h.challenge()
			ch.Challenge = "AAAAAAAAAAAAAAAAAAAAAA"
			return req(ch.Challenge, h.proof(sec, ch, principal, tok))
		}, unknown},
		{"empty challenge", func() wire.EnrollRequest { return req("", "x") }, "challenge and proof are required"},
		{"empty proof", func() wire.EnrollRequest { return req(h.challenge().Challenge, "") }, "challenge and proof are required"},
	}
	for _, c := range cases {
		n := h.rec.count()
		status, body := h.post("/v1/enroll", c.req())
		wantStatus, code := http.StatusUnauthorized, wire.CodeInvalidProof
		if strings.HasPrefix(c.msg, "challenge and proof") {
			wantStatus, code = http.StatusBadRequest, wire.CodeBadRequest
		}
		wantError(t, c.name, status, body, wantStatus, code, c.msg)
		rec := h.rec.last(t)
		if h.rec.count() != n+1 || rec.Outcome != audit.OutcomeFailure || !strings.HasPrefix(rec.Reason, code+` principal="PROXY01$"`) ||
			rec.Key != fp || rec.User != "" || rec.Action != ActionEnroll {
			t.Errorf("%s: audit %+v", c.name, rec)
		}
	}
	// Missing fields entirely (not just empty).
	for _, b := range []string{
		`{"principal":"PROXY01$","public_key":"` + key + `","id_token":"` + tok + `","proof":"x"}`,
		`{"principal":"PROXY01$","public_key":"` + key + `","id_token":"` + tok + `","challenge":"x"}`,
	} {
		status, body := h.do("POST", "/v1/enroll", strings.NewReader(b), nil)
		wantError(t, "missing field", status, body, http.StatusBadRequest, wire.CodeBadRequest, "challenge and proof are required")
	}
	// A low-order public key: the all-zero shared secret anybody can
	// compute does not make a proof.
	for _, lo := range lowOrder {
		k := lowOrderKey(t, lo).String()
		ch := h.challenge()
		status, body := h.post("/v1/enroll", wire.EnrollRequest{Principal: principal, PublicKey: k, IDToken: tok,
			Challenge: ch.Challenge, Proof: zeroKeyProof(ch.Challenge, principal, k, tok)})
		wantError(t, "low-order key "+lo, status, body, http.StatusUnauthorized, wire.CodeInvalidProof, noMatch)
	}
	if bs := h.bindings(); len(bs) != 0 {
		t.Fatalf("bad proofs bound keys: %+v", bs)
	}
	// None of them spent the token.
	ch := h.challenge()
	status, body := h.post("/v1/enroll", req(ch.Challenge, h.proof(sec, ch, principal, tok)))
	if status != http.StatusCreated || body["status"] != "bound" || body["fingerprint"] != fp {
		t.Fatalf("the token after the refused proofs: %d %v", status, body)
	}
	// The challenge of the success is used up too.
	status, body = h.post("/v1/enroll", wire.EnrollRequest{Principal: principal, PublicKey: key, IDToken: tok2,
		Challenge: ch.Challenge, Proof: h.proof(sec, ch, principal, tok2)})
	wantError(t, "challenge of a success again", status, body, http.StatusUnauthorized, wire.CodeInvalidProof, unknown)
}

// A challenge is valid until just before ChallengeTTL has passed.
func TestChallengeLifetime(t *testing.T) {
	now := time.Now()
	c := newChallenges(10, ChallengeTTL, func() time.Time { return now })
	a, err := c.issue()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.issue()
	now = now.Add(ChallengeTTL - time.Second)
	if _, ok := c.take(a.Challenge); !ok {
		t.Error("a challenge 1s before its expiry was refused")
	}
	now = now.Add(time.Second)
	if _, ok := c.take(b.Challenge); ok {
		t.Error("an expired challenge was accepted")
	}
	if n := c.outstanding(); n != 0 {
		t.Errorf("%d challenges kept after use", n)
	}
	// Expired challenges are dropped when a new one is issued.
	for i := 0; i < 5; i++ {
		c.issue()
	}
	now = now.Add(ChallengeTTL)
	c.issue()
	if n := c.outstanding(); n != 1 {
		t.Errorf("%d challenges kept, want 1 (the expired ones dropped)", n)
	}
}

// At most MaxChallenges are kept: one more drops the oldest, which then
// is refused as unknown; the others still work. (The test lowers the
// bound to 3 after checking the service's default.)
func TestChallengesBounded(t *testing.T) {
	h := newHarness(t, nil)
	if h.svc.chs.max != MaxChallenges || MaxChallenges != 10000 {
		t.Fatalf("bound %d (MaxChallenges %d), want 10000 as documented", h.svc.chs.max, MaxChallenges)
	}
	h.svc.chs.max = 3
	first, second, third := h.challenge(), h.challenge(), h.challenge()
	if n := h.svc.chs.outstanding(); n != 3 {
		t.Fatalf("%d outstanding, want 3", n)
	}
	last := h.challenge()
	if n := h.svc.chs.outstanding(); n != 3 {
		t.Errorf("%d outstanding after one more, want 3", n)
	}
	key, _ := newKey(t)
	v, _ := testSecrets.Load(key)
	sec := v.(certs.SecretKey)
	tok := h.iss.token(t, nil)
	post := func(ch wire.Challenge) (int, map[string]any) {
		return h.post("/v1/enroll", wire.EnrollRequest{Principal: "PROXY01$", PublicKey: key, IDToken: tok,
			Challenge: ch.Challenge, Proof: h.proof(sec, ch, "PROXY01$", tok)})
	}
	status, body := post(first)
	wantError(t, "the dropped oldest challenge", status, body, http.StatusUnauthorized, wire.CodeInvalidProof, "unknown or expired challenge")
	if status, body := post(second); status != http.StatusCreated {
		t.Errorf("the second-oldest challenge: %d %v", status, body)
	}
	for _, ch := range []wire.Challenge{third, last} {
		if _, ok := h.svc.chs.take(ch.Challenge); !ok {
			t.Errorf("challenge %s is gone", ch.Challenge)
		}
	}
	// Used challenges free their place: a full set again, nothing dropped.
	a, b, c := h.challenge(), h.challenge(), h.challenge()
	for _, ch := range []wire.Challenge{a, b, c} {
		if _, ok := h.svc.chs.take(ch.Challenge); !ok {
			t.Errorf("challenge %s was dropped although used ones freed room", ch.Challenge)
		}
	}
}
