package certs

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const python = "/usr/bin/python3"

// runPython runs a Python script with args and returns its standard output.
// A missing interpreter or zmq module fails the test: pyzmq interop is part
// of the contract, so it must not be skipped silently.
func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s not found (%v): `make deps` installs python3 and python3-zmq", python, err)
	}
	if out, err := exec.Command(python, "-c", "import zmq.auth").CombinedOutput(); err != nil {
		t.Fatalf("python zmq module missing (%v: %s): `make deps` installs python3-zmq", err, out)
	}
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("python script failed: %v\n%s", err, stderr)
	}
	return string(out)
}

func TestInteropPyzmqCreatesWeLoad(t *testing.T) {
	dir := t.TempDir()
	out := runPython(t, `
import json, sys, zmq.auth
pub, sec = zmq.auth.create_certificates(sys.argv[1], "proxy01",
    metadata={"principal": "PROXY01$", "email": "ops@corp.example.com"})
p, _ = zmq.auth.load_certificate(pub)
p2, s = zmq.auth.load_certificate(sec)
print(json.dumps({"public": p.decode(), "public2": p2.decode(), "secret": s.decode()}))
`, dir)
	var keys struct{ Public, Public2, Secret string }
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	pubPath := filepath.Join(dir, "proxy01.key")
	secPath := pubPath + "_secret"

	pub, err := LoadPublic(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Public.String() != keys.Public {
		t.Fatalf("public key %s; pyzmq says %s", pub.Public, keys.Public)
	}
	// pyzmq writes the secret file with the umask's mode: make it private
	// first, as LoadSecret demands.
	if err := os.Chmod(secPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSecret(secPath); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("LoadSecret of a 0644 pyzmq secret file: %v; want a refusal", err)
	}
	if err := os.Chmod(secPath, 0o600); err != nil {
		t.Fatal(err)
	}
	sec, err := LoadSecret(secPath)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Public.String() != keys.Public2 || sec.Secret.Z85() != keys.Secret {
		t.Fatal("secret file keys differ from pyzmq's")
	}
	for name, want := range map[string]string{"principal": "PROXY01$", "email": "ops@corp.example.com"} {
		if got, ok := sec.Metadata.Get(name); !ok || got != want {
			t.Errorf("metadata %s = %q; want %q", name, got, want)
		}
	}
}

func TestInteropWeCreatePyzmqLoads(t *testing.T) {
	dir := t.TempDir()
	c, err := NewCert()
	if err != nil {
		t.Fatal(err)
	}
	c.Metadata.Set("principal", "PROXY01$")
	c.Metadata.Set("note", "it's quoted with double quotes")
	pubPath, secPath, err := c.Save(dir, "proxy01")
	if err != nil {
		t.Fatal(err)
	}
	out := runPython(t, `
import json, sys, zmq, zmq.auth
p, s0 = zmq.auth.load_certificate(sys.argv[1])
p2, s = zmq.auth.load_certificate(sys.argv[2])
all = zmq.auth.load_certificates(sys.argv[3])
print(json.dumps({"public": p.decode(), "nosecret": s0 is None, "public2": p2.decode(),
    "secret": s.decode(), "derived": zmq.curve_public(s).decode(),
    "dir": [k.decode() for k in all]}))
`, pubPath, secPath, dir)
	var got struct {
		Public, Public2, Secret, Derived string
		NoSecret                         bool
		Dir                              []string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	want := c.Public.String()
	if got.Public != want || got.Public2 != want || got.Derived != want {
		t.Fatalf("pyzmq reads public keys %q %q (derived %q); want %q", got.Public, got.Public2, got.Derived, want)
	}
	if got.Secret != c.Secret.Z85() {
		t.Fatal("pyzmq reads a different secret key")
	}
	if !got.NoSecret {
		t.Fatal("pyzmq found a secret key in the public file")
	}
	if len(got.Dir) != 1 || got.Dir[0] != want {
		t.Fatalf("pyzmq load_certificates = %v; want [%s]", got.Dir, want)
	}
}
