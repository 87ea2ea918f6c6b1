package certs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	zmq "github.com/pebbe/zmq4"
)

// The server keypair from the ZeroMQ CURVE documentation.
const (
	docPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
	docSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
)

func TestGenerateKeypair(t *testing.T) {
	pub, sec, err := GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	if pub.IsZero() || sec.IsZero() {
		t.Fatal("GenerateKeypair returned a zero key")
	}
	derived, err := sec.Public()
	if err != nil {
		t.Fatal(err)
	}
	if derived != pub {
		t.Fatalf("public key %s does not belong to the secret key (derived %s)", pub, derived)
	}
	// libzmq derives the same public key from the secret key.
	z, err := zmq.AuthCurvePublic(sec.Z85())
	if err != nil {
		t.Fatal(err)
	}
	if z != pub.String() {
		t.Fatalf("libzmq derives %s, want %s", z, pub)
	}
	pub2, _, err := GenerateKeypair()
	if err != nil {
		t.Fatal(err)
	}
	if pub2 == pub {
		t.Fatal("two calls returned the same key")
	}
}

func TestParsePublicKey(t *testing.T) {
	k, err := ParsePublicKey(docPublic)
	if err != nil {
		t.Fatal(err)
	}
	if k.String() != docPublic || k.Z85() != docPublic {
		t.Fatalf("String() = %q; want %q", k.String(), docPublic)
	}
	var u PublicKey
	if err := u.UnmarshalText([]byte(docPublic)); err != nil || u != k {
		t.Fatalf("UnmarshalText = %v, %v", u, err)
	}
	text, _ := k.MarshalText()
	if string(text) != docPublic {
		t.Fatalf("MarshalText = %q", text)
	}

	bad := []struct{ in, want string }{
		{"", "want 40 z85 characters, got 0"},
		{docPublic[:39], "want 40 z85 characters, got 39"},
		{docPublic + "0", "want 40 z85 characters, got 41"},
		{docPublic[:39] + " ", "character ' ' at offset 39"},
		{"#####" + docPublic[5:], "overflows 32 bits"},
	}
	for _, tt := range bad {
		_, err := ParsePublicKey(tt.in)
		if err == nil || !errors.Is(err, ErrZ85) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "certs: parse public key: ") {
			t.Errorf("ParsePublicKey(%q) error = %v; want one containing %q", tt.in, err, tt.want)
		}
	}
}

func TestParseSecretKeyDoesNotQuoteInput(t *testing.T) {
	s, err := ParseSecretKey(docSecret)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.Public()
	if err != nil || pub.String() != docPublic {
		t.Fatalf("Public() = %s, %v; want %s", pub, err, docPublic)
	}
	in := docSecret[:39] + " "
	_, err = ParseSecretKey(in)
	if err == nil || !errors.Is(err, ErrZ85) {
		t.Fatalf("ParseSecretKey(bad) error = %v; want ErrZ85", err)
	}
	if strings.Contains(err.Error(), docSecret[:10]) {
		t.Fatalf("error %q quotes the secret key", err)
	}
}

func TestFingerprint(t *testing.T) {
	k, err := ParsePublicKey(docPublic)
	if err != nil {
		t.Fatal(err)
	}
	// Computed independently: base64(sha256(z85decode(docPublic)))[:16].
	if got, want := k.Fingerprint(), "SHA256:UiUB9OemP2Hdd21+"; got != want {
		t.Fatalf("Fingerprint() = %q; want %q", got, want)
	}
	var other PublicKey
	if other.Fingerprint() == k.Fingerprint() {
		t.Fatal("different keys have the same fingerprint")
	}
}

func TestSecretKeyNeverPrinted(t *testing.T) {
	s, err := ParseSecretKey(docSecret)
	if err != nil {
		t.Fatal(err)
	}
	raw := string(s[:])
	hexed := fmt.Sprintf("%x", [32]byte(s))
	type holder struct {
		Name string
		Key  SecretKey
	}
	outs := map[string]string{
		"%v": fmt.Sprintf("%v", s),
		//lint:ignore S1025 the test checks every fmt verb, %s included
		"%s":  fmt.Sprintf("%s", s),
		"%+v": fmt.Sprintf("%+v", holder{"n", s}),
		"%#v": fmt.Sprintf("%#v", holder{"n", s}),
		"%x":  fmt.Sprintf("%x", s),
		"%q":  fmt.Sprintf("%q", s),
		"ptr": fmt.Sprintf("%v", &s),
	}
	var logbuf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logbuf, nil))
	log.Info("m", "key", s, "holder", holder{"n", s})
	outs["slog"] = logbuf.String()
	var textbuf bytes.Buffer
	slog.New(slog.NewTextHandler(&textbuf, nil)).Info("m", "key", s)
	outs["slogtext"] = textbuf.String()
	for name, out := range outs {
		if strings.Contains(out, docSecret) || strings.Contains(out, raw) || strings.Contains(out, hexed) {
			t.Errorf("%s reveals the secret key: %q", name, out)
		}
	}
	if outs["%v"] != "[secret]" || outs["%#v"] != `certs.holder{Name:"n", Key:certs.SecretKey([secret])}` {
		t.Errorf("unexpected redaction: %q / %q", outs["%v"], outs["%#v"])
	}
	if !strings.Contains(outs["slog"], `"key":"[secret]"`) {
		t.Errorf("slog output %q lacks the redacted key", outs["slog"])
	}
	if b, err := json.Marshal(holder{"n", s}); err == nil {
		t.Errorf("json.Marshal of a secret key succeeded: %s", b)
	}
	if s.Z85() != docSecret {
		t.Errorf("Z85() = %q; want the key", s.Z85())
	}
}
