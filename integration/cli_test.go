//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	out := mustRun(t, "demo")
	for _, want := range []string{
		`relayed; reply ["ok" "PROXY01$ did task.start"]`,
		`relayed; reply ["ok" "REPO01$ did repo.list"]`,
		`403 forbidden: request service "repository" command "task.start"`,
		`BACKUP01$ received job.status.PROXY01 from PROXY01$`,
		`403 forbidden: publish topic "admin.alert"`,
		`404 no-worker`,
		`hash chain verified`,
		`reason=key-revoked`,
		`reason=policy-denied`,
		`reason=unknown-key`,
		"demo passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "handshake refused by the ZAP handler"); n != 2 {
		t.Errorf("want 2 refused handshakes (no role, unknown key), got %d:\n%s", n, out)
	}
}

func TestKeygenFilesLoadInPyzmq(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "keygen", "proxy01", "--dir", dir, "--principal", "PROXY01$")
	st, err := os.Stat(filepath.Join(dir, "proxy01.key_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret mode %v", st.Mode().Perm())
	}
	got := python(t, `import sys, zmq.auth
p, s = zmq.auth.load_certificate(sys.argv[1] + "/proxy01.key_secret")
p2, none = zmq.auth.load_certificate(sys.argv[1] + "/proxy01.key")
assert p == p2 and none is None and s is not None and len(s) == 40
print(p.decode())`, dir)
	reg := filepath.Join(dir, "registry")
	mustRun(t, "keys", "add", filepath.Join(dir, "proxy01.key_secret"), "--principal", "PROXY01$", "--registry", reg)
	show := mustRun(t, "keys", "show", "PROXY01$", "--registry", reg)
	if !strings.Contains(show, strings.TrimSpace(got)) {
		t.Errorf("keys show does not print pyzmq's public key %q:\n%s", got, show)
	}
	// The registry never receives the secret.
	entries, _ := os.ReadDir(reg)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(reg, e.Name()))
		if strings.Contains(string(data), "secret-key") {
			t.Errorf("%s holds a secret key", e.Name())
		}
	}
}

func TestKeysListJSONAndErrors(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "registry")
	mustRun(t, "keygen", "a", "--dir", dir)
	mustRun(t, "keygen", "b", "--dir", dir)
	mustRun(t, "keys", "add", filepath.Join(dir, "a.key"), "--principal", "A$", "--registry", reg)
	mustRun(t, "keys", "add", filepath.Join(dir, "b.key"), "--principal", "B$", "--registry", reg, "--expires", "2030-01-31")
	if out, err := run(t, "keys", "add", filepath.Join(dir, "a.key"), "--principal", "C$", "--registry", reg); err == nil {
		t.Fatalf("binding an already bound key succeeded:\n%s", out)
	}
	var list []map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "list", "--json", "--registry", reg)), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("want 2 bindings, got %v", list)
	}
	// A malformed file is reported and the exit status says so.
	if err := os.WriteFile(filepath.Join(reg, "broken.key"), []byte("curve\n    public-key = \"short\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "keys", "list", "--registry", reg)
	if err == nil || !strings.Contains(out, "broken.key") {
		t.Fatalf("malformed file not reported (err %v):\n%s", err, out)
	}
	if !strings.Contains(out, "A$") || !strings.Contains(out, "B$") {
		t.Fatalf("good bindings not listed next to the bad file:\n%s", out)
	}
}

func TestHelpOnEveryVerb(t *testing.T) {
	verbs := [][]string{{"serve"}, {"demo"}, {"keygen"}, {"keys"}, {"keys", "add"}, {"keys", "list"}, {"keys", "show"}, {"keys", "revoke"},
		{"policy"}, {"policy", "check"}, {"policy", "test"}, {"policy", "explain"}, {"audit"}, {"audit", "verify"}, {"audit", "export"}, {"audit", "tail"},
		{"enroll"}, {"doctor"}, {"version"}}
	for _, v := range verbs {
		out := mustRun(t, append(v, "--help")...)
		if !strings.Contains(out, "Usage:") {
			t.Errorf("zapgate %v --help: no usage:\n%s", v, out)
		}
	}
	out := mustRun(t, "version")
	if !strings.Contains(out, "libzmq 4.") {
		t.Errorf("version output: %s", out)
	}
}

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "zapgate.yaml")
	if err := os.WriteFile(cfg, []byte("keys:\n  registry: /nonexistent\n  regsitry: /x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "doctor", "--config", cfg)
	if err == nil {
		t.Fatalf("doctor accepted a bad config:\n%s", out)
	}
	if !strings.Contains(out, cfg+`:3: unknown key "regsitry"`) {
		t.Errorf("error does not name file:line:\n%s", out)
	}
}
