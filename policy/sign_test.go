package policy

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// newKey generates a keypair in dir and returns the secret and the trusted
// public key.
func newKey(t *testing.T, dir, name string) (ed25519.PrivateKey, PublicKey) {
	t.Helper()
	pubPath, secPath, err := GenerateKey(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := LoadSecretKey(secPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func TestGenerateKey(t *testing.T) {
	dir := t.TempDir()
	priv, pub := newKey(t, dir, "secteam")
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), pub.Key) || pub.ID != KeyID(pub.Key) || !strings.HasPrefix(pub.ID, "SHA256:") || len(pub.ID) != 23 {
		t.Errorf("key pair mismatch or bad id %q", pub.ID)
	}
	for name, mode := range map[string]os.FileMode{"secteam.pub": 0o644, "secteam.secret": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&^mode != 0 || (name == "secteam.secret" && fi.Mode().Perm() != 0o600) {
			t.Errorf("%s: mode %o", name, fi.Mode().Perm())
		}
	}
	if _, _, err := GenerateKey(dir, "secteam"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("overwrote an existing key: %v", err)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden"} {
		if _, _, err := GenerateKey(dir, bad); err == nil {
			t.Errorf("GenerateKey(%q) accepted", bad)
		}
	}
}

func TestSecretKeyModeRefused(t *testing.T) {
	dir := t.TempDir()
	_, _, err := GenerateKey(dir, "k")
	if err != nil {
		t.Fatal(err)
	}
	sec := filepath.Join(dir, "k.secret")
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644, 0o666} {
		os.Chmod(sec, mode)
		_, err := LoadSecretKey(sec)
		if !errors.Is(err, ErrInsecureMode) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %o: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		os.Chmod(sec, mode)
		if _, err := LoadSecretKey(sec); err != nil {
			t.Errorf("mode %o: %v", mode, err)
		}
	}
	// The public key is not a secret key, and vice versa.
	if _, err := LoadSecretKey(filepath.Join(dir, "k.pub")); err == nil {
		t.Error("public key file loaded as a secret")
	}
	if _, err := LoadPublicKey(sec); err == nil {
		t.Error("secret key file loaded as a public key")
	}
}

func TestSignVerify(t *testing.T) {
	dir := t.TempDir()
	priv, pub := newKey(t, dir, "a")
	_, other := newKey(t, dir, "b")
	data := []byte("version: 1\nrevision: r\n")
	sig := Sign(priv, data)

	if k, err := Verify(data, sig, []PublicKey{other, pub}); err != nil || k.ID != pub.ID {
		t.Fatalf("Verify = %v, %v", k, err)
	}
	// Every single-byte change to the file is refused.
	for i := range data {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x01
		if _, err := Verify(bad, sig, []PublicKey{pub}); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("byte %d changed: %v", i, err)
		}
	}
	if _, err := Verify(append(data, '\n'), sig, []PublicKey{pub}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("appended newline: %v", err)
	}
	// A signature by a key that is not trusted.
	if _, err := Verify(data, sig, []PublicKey{other}); !errors.Is(err, ErrUntrustedKey) {
		t.Errorf("untrusted key: %v", err)
	}
	// A forged signature line with the right digest.
	forged := bytes.Replace(sig, []byte("signature: "), []byte("signature: AAAA"), 1)
	forged = forged[:bytes.LastIndexByte(forged[:len(forged)-1], '\n')+1]
	forged = append(forged, []byte("signature: "+strings.Repeat("A", 86)+"==\n")...)
	if _, err := Verify(data, forged, []PublicKey{pub}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("forged signature: %v", err)
	}
	// A trusted key entry whose ID matches but whose key differs.
	liar := PublicKey{Key: other.Key, ID: pub.ID}
	if _, err := Verify(data, sig, []PublicKey{liar}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("mismatched key: %v", err)
	}
	// The signed message is the context line and the bytes, not the bare
	// bytes.
	sf, err := parseSig(sig)
	if err != nil {
		t.Fatal(err)
	}
	if ed25519.Verify(pub.Key, data, sf.signature) || !ed25519.Verify(pub.Key, append([]byte(SignatureContext), data...), sf.signature) {
		t.Error("the signature is not over SignatureContext + file bytes")
	}
}

func TestParseSigStrict(t *testing.T) {
	dir := t.TempDir()
	priv, pub := newKey(t, dir, "a")
	data := []byte("version: 1\n")
	good := string(Sign(priv, data))
	cases := map[string]string{
		"empty":          "",
		"no version":     strings.Replace(good, "zapgate-policy-signature: v1\n", "", 1),
		"version 2":      strings.Replace(good, "signature: v1", "signature: v2", 1),
		"unknown field":  good + "comment: hi\n",
		"duplicate":      good + "key-id: " + pub.ID + "\n",
		"no colon":       good + "garbage\n",
		"short digest":   strings.Replace(good, "file-sha256: ", "file-sha256: ab", 1),
		"bad base64":     strings.Replace(good, "signature: ", "signature: !", 1),
		"no key id":      strings.Replace(good, "key-id: "+pub.ID+"\n", "", 1),
		"empty value":    strings.Replace(good, "key-id: "+pub.ID, "key-id:", 1),
		"huge":           good + "# " + strings.Repeat("x", maxSigFile) + "\n",
		"short sig":      strings.Replace(good, "signature: ", "signature: QUJD\n#", 1),
		"wrong file sum": regexp.MustCompile(`file-sha256: \S+`).ReplaceAllString(good, "file-sha256: "+strings.Repeat("0", 64)),
	}
	for name, sig := range cases {
		if sig == good {
			continue
		}
		if _, err := Verify(data, []byte(sig), []PublicKey{pub}); !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUntrustedKey) {
			t.Errorf("%s: Verify = %v", name, err)
		}
	}
	if _, err := Verify(data, []byte("# comment\n\n"+good), []PublicKey{pub}); err != nil {
		t.Errorf("comments and blank lines: %v", err)
	}
}

func writePolicy(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRequiresSignature(t *testing.T) {
	dir := t.TempDir()
	priv, pub := newKey(t, dir, "a")
	path := filepath.Join(dir, "policy.yaml")
	writePolicy(t, path, fixture)
	opts := LoadOptions{RequireSignature: true, TrustedKeys: []PublicKey{pub}, RunTests: true}

	if _, err := Load(path, opts); !errors.Is(err, ErrNoSignature) || !strings.Contains(err.Error(), "policy.yaml.sig is missing") {
		t.Fatalf("unsigned: %v", err)
	}
	s, err := SignFile(path, priv)
	if err != nil || s.SigPath != path+".sig" || s.KeyID != pub.ID || s.Revision != "r1" {
		t.Fatalf("SignFile = %+v, %v", s, err)
	}
	p, err := Load(path, opts)
	if err != nil || p.SignedBy() != pub.ID {
		t.Fatalf("signed: %v (signed by %q)", err, p.SignedBy())
	}
	if k, err := VerifyFile(path, []PublicKey{pub}); err != nil || k.ID != pub.ID {
		t.Errorf("VerifyFile = %v", err)
	}
	// A change on the broker host without a new signature is refused.
	writePolicy(t, path, strings.Replace(fixture, "10.20.0.0/16", "0.0.0.0/0", 1))
	if _, err := Load(path, opts); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "changed after it was signed") {
		t.Errorf("tampered: %v", err)
	}
	if _, err := Load(path, LoadOptions{RequireSignature: true}); !errors.Is(err, ErrUntrustedKey) {
		t.Errorf("no trusted keys: %v", err)
	}
	// Without RequireSignature the signature is not consulted.
	if _, err := Load(path, LoadOptions{}); err != nil {
		t.Errorf("unsigned load: %v", err)
	}
}

func TestSignFileRefusesBadPolicies(t *testing.T) {
	dir := t.TempDir()
	priv, _ := newKey(t, dir, "a")
	path := filepath.Join(dir, "p.yaml")
	writePolicy(t, path, "version: 1\nbogus: 1\n")
	if _, err := SignFile(path, priv); err == nil || !strings.Contains(err.Error(), "refusing to sign an invalid policy") {
		t.Errorf("invalid: %v", err)
	}
	writePolicy(t, path, "version: 1\ntests:\n  - {name: t, identity: {}, action: {kind: connect}, expect: allow}\n")
	if _, err := SignFile(path, priv); !errors.Is(err, ErrTestsFailed) {
		t.Errorf("failing tests: %v", err)
	}
	if _, err := os.Stat(path + ".sig"); err == nil {
		t.Error("a signature was written")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}
