package enrollclient

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/enroll"
)

// The fixed vector of docs/enrollment.md's proof, computed outside Go
// (Python's cryptography X25519 and hmac, pyzmq's Z85); package enroll's
// tests verify the same vector.
const (
	vecServerKey = "2CVWV6D&QXW]Ii55A)@qco1MAyn+7#3/w+9Xnrjk" // secret: bytes 1..32
	vecNodeKey   = "r$]?G5O}bKhM?emC%9YjTR?kWN-cTl1&]RpI:m+f" // secret: bytes 101..132
	vecChallenge = "AAECAwQFBgcICQoLDA0ODw"
	vecPrincipal = "PROXY01$"
	vecToken     = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
	vecProof     = "zQYglYG1NIUesjke0LeejtxXhJhoFScPZk9Gc0zy8jI"
)

func TestProofVector(t *testing.T) {
	var sec certs.SecretKey
	for i := range sec {
		sec[i] = byte(101 + i)
	}
	if pub, _ := sec.Public(); pub.String() != vecNodeKey {
		t.Fatalf("node key %s, want %s", pub, vecNodeKey)
	}
	p, err := Proof(sec, Challenge{Challenge: vecChallenge, ServerKey: vecServerKey}, vecPrincipal, vecToken)
	if err != nil || p != vecProof {
		t.Fatalf("proof %q, %v; want %q", p, err, vecProof)
	}
}

// The client's proof is what the broker's verifier (enroll.VerifyProof)
// accepts, and only for the same challenge, principal, key and token.
func TestProofMatchesBrokerVerifier(t *testing.T) {
	for i := 0; i < 20; i++ {
		pub, sec, err := certs.GenerateKeypair()
		if err != nil {
			t.Fatal(err)
		}
		serverPub, serverSec, err := certs.GenerateKeypair()
		if err != nil {
			t.Fatal(err)
		}
		var raw [16]byte
		rand.Read(raw[:])
		ch := Challenge{Challenge: fmt.Sprintf("%x", raw), ServerKey: serverPub.String()}
		principal, token := fmt.Sprintf("PROXY%02d$", i), fmt.Sprintf("a.b%d.c", i)
		p, err := Proof(sec, ch, principal, token)
		if err != nil {
			t.Fatal(err)
		}
		if !enroll.VerifyProof(serverSec, pub, ch.Challenge, principal, token, p) {
			t.Fatalf("the broker does not verify the client's proof (round %d)", i)
		}
		if enroll.VerifyProof(serverSec, pub, ch.Challenge, principal+"x", token, p) ||
			enroll.VerifyProof(serverSec, pub, ch.Challenge, principal, token+"x", p) ||
			enroll.VerifyProof(serverSec, serverPub, ch.Challenge, principal, token, p) {
			t.Fatalf("the broker verifies the proof for something else (round %d)", i)
		}
	}
}

func TestProofRefusesBadServerKeys(t *testing.T) {
	_, sec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	one := certs.PublicKey{1} // the point of order 4: the shared secret is all zeros
	for key, want := range map[string]string{
		"short":      "server_key",
		one.String(): "low-order",
	} {
		if p, err := Proof(sec, Challenge{Challenge: vecChallenge, ServerKey: key}, vecPrincipal, vecToken); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("server key %q: proof %q, error %v; want an error containing %q", key, p, err, want)
		}
	}
}

// EnrollKey fetches a challenge, proves possession and posts: the broker
// (a test server verifying with enroll.VerifyProof) gets the public key
// and a good proof, and never the secret.
func TestEnrollKeyProves(t *testing.T) {
	serverPub, serverSec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	pub, sec, err := certs.GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	c, _ := broker(t, func(w http.ResponseWriter, r *http.Request) {
		order = append(order, r.Method+" "+r.URL.Path)
		if r.URL.Path == "/v1/enroll/challenge" {
			fmt.Fprintf(w, `{"challenge":"c1","server_key":%q,"expires_at":"2026-11-25T21:05:00Z"}`, serverPub)
			return
		}
		var req map[string]string
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body, _ := json.Marshal(req)
		if strings.Contains(string(body), sec.Z85()) {
			http.Error(w, `{"error":"leak","message":"the secret key was sent"}`, 400)
			return
		}
		if req["challenge"] != "c1" || req["public_key"] != pub.String() ||
			!enroll.VerifyProof(serverSec, pub, "c1", req["principal"], req["id_token"], req["proof"]) {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid-proof","message":"proof does not match the key"}`)
			return
		}
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"status":"bound","principal":"PROXY09$","fingerprint":%q,"approved_by":["alice"]}`, pub.Fingerprint())
	})
	res, err := c.EnrollKey(context.Background(), sec, "PROXY09$", "a.b.c")
	if err != nil || res.Status != "bound" || res.Fingerprint != pub.Fingerprint() {
		t.Fatalf("EnrollKey: %+v %v", res, err)
	}
	if strings.Join(order, ", ") != "GET /v1/enroll/challenge, POST /v1/enroll" {
		t.Errorf("requests: %v", order)
	}
}

func TestChallengeChecksTheAnswer(t *testing.T) {
	for body, want := range map[string]string{
		`{"challenge":"","server_key":"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"}`: "empty",
		`{"challenge":"c","server_key":"not z85"}`:                                 "server_key",
	} {
		c, _ := broker(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) })
		if _, err := c.Challenge(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", body, err, want)
		}
	}
}

func TestLoadNodeKey(t *testing.T) {
	dir := t.TempDir()
	cert, err := certs.NewCert()
	if err != nil {
		t.Fatal(err)
	}
	pubPath, secPath, err := cert.Save(dir, "node")
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadNodeKey(secPath)
	if err != nil || got.Secret == nil || *got.Secret != *cert.Secret {
		t.Fatalf("secret certificate: %v", err)
	}
	// The public certificate (mode 0644, or 0600): not advice to chmod,
	// but the secret file.
	for _, mode := range []os.FileMode{0o644, 0o600} {
		os.Chmod(pubPath, mode)
		_, err = LoadNodeKey(pubPath)
		if !errors.Is(err, ErrPublicOnly) || !strings.Contains(err.Error(), "enroll needs the node's secret certificate NAME.key_secret to prove it holds the key; the secret never leaves this machine") ||
			!strings.Contains(err.Error(), "(use "+secPath+")") || strings.Contains(err.Error(), "chmod") {
			t.Errorf("public certificate, mode %04o: %v", mode, err)
		}
	}
	// A secret file others may read is refused as such.
	os.Chmod(secPath, 0o644)
	if _, err = LoadNodeKey(secPath); !errors.Is(err, certs.ErrInsecureMode) || errors.Is(err, ErrPublicOnly) {
		t.Errorf("secret file with mode 0644: %v", err)
	}
	if _, err = LoadNodeKey(filepath.Join(dir, "missing.key_secret")); err == nil {
		t.Error("a missing file was accepted")
	}
}
