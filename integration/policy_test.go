//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const examplePolicy = "../examples/policy.yaml"

// wantAll fails the test unless out contains every string in want.
func wantAll(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s output lacks %q:\n%s", what, w, out)
		}
	}
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyExampleChecksAndPasses(t *testing.T) {
	out := mustRun(t, "policy", "check", examplePolicy)
	wantAll(t, "check", out, examplePolicy+": ok (revision 2026-11-25.1;", "19 tests)")
	if strings.Contains(out, "warning") {
		t.Errorf("the example has warnings:\n%s", out)
	}
	out = mustRun(t, "policy", "test", examplePolicy)
	wantAll(t, "test", out, "RESULT  TEST", "PASS    quarantine beats every role", "deny#1", "19 passed, 0 failed")
	out = mustRun(t, "policy", "test", examplePolicy, "a proxy*")
	wantAll(t, "filtered test", out, "6 passed, 0 failed")
	if out, err := run(t, "policy", "test", examplePolicy, "no such test"); err == nil || !strings.Contains(out, `no test named "no such test"`) {
		t.Errorf("unknown test name accepted (%v):\n%s", err, out)
	}
}

func TestPolicyCheckReportsEveryError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, path, `version: 1
revison: typo
roles:
  proxy:
    serve: [proxy]
    publish: ["job..status"]
    connect: {from: ["10.0.0.1/8"]}
bindings:
  - {group: "okta:backup-proxies", roles: [proxy, repository]}
  - {group: "CN=a,,DC=b", roles: [proxy]}
deny:
  - {group: okta:q, actions: [fly]}
tests:
  - {name: t, identity: {}, action: {kind: connect}, expect: deny, expect_rule: deny#9}
`, 0o644)
	out, err := run(t, "policy", "check", path, examplePolicy)
	if code := exitStatus(err); code != 1 {
		t.Fatalf("exit status %d (%v):\n%s", code, err, out)
	}
	wantAll(t, "check", out,
		path+`:2: policy: unknown key "revison"`,
		path+`:6: role "proxy" publish: "job..status": pattern has an empty segment`,
		path+`:7: role "proxy" connect from: "10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?`,
		path+`:9: binding #1: undefined role "repository"`,
		path+`:10: binding #2 group: "CN=a,,DC=b" is not a valid distinguished name`,
		path+`:12: deny rule #1 actions: unknown action "fly"`,
		path+`:14: test "t" expect_rule: no rule "deny#9"`,
		examplePolicy+": ok",
	)
}

func TestPolicyTestFailureExits1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	writeFile(t, path, `version: 1
roles:
  proxy: {serve: [proxy]}
bindings:
  - {group: okta:proxies, roles: [proxy]}
tests:
  - name: proxies serve
    identity: {groups: [okta:proxies]}
    action: {kind: serve, service: proxy}
    expect: allow
  - name: proxies serve the repository too
    identity: {groups: [okta:proxies]}
    action: {kind: serve, service: repository}
    expect: allow
`, 0o644)
	out, err := run(t, "policy", "test", path)
	if code := exitStatus(err); code != 1 {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
	wantAll(t, "test", out, "PASS    proxies serve ", "FAIL    proxies serve the repository too",
		path+`:11: test "proxies serve the repository too": expected allow, got deny by default-deny`, "1 passed, 1 failed")
}

func TestPolicyExplain(t *testing.T) {
	out := mustRun(t, "policy", "explain", examplePolicy,
		"--principal", "BACKUP02$",
		"--group", "cn=backup servers, ou=groups, dc=corp, dc=example, dc=com",
		"--group", "CN=Quarantine,OU=Groups,DC=corp,DC=example,DC=com",
		"--group", "CN=Domain Users,CN=Users,DC=corp,DC=example,DC=com",
		"--action", "request", "--service", "proxy", "--command", "task.start")
	wantAll(t, "explain", out,
		"decision: DENY",
		"revision: 2026-11-25.1",
		`group "cn=backup servers, ou=groups, dc=corp, dc=example, dc=com": binding #1 (line 57) grants role backup-server`,
		`group "CN=Quarantine,OU=Groups,DC=corp,DC=example,DC=com": named by deny#1`,
		`group "CN=Domain Users,CN=Users,DC=corp,DC=example,DC=com": not named by this policy; ignored`,
		"roles: backup-server",
		"role backup-server allows it: role:backup-server:request#1",
		"denied by deny#1: deny rules win over every grant.",
	)
	out = mustRun(t, "policy", "explain", examplePolicy, "--group", "okta:backup-proxies", "--action", "connect", "--source", "::ffff:10.30.1.2")
	wantAll(t, "explain connect", out, "decision: ALLOW", "rule:     role:proxy:connect", "allowed by role:proxy:connect")
	out = mustRun(t, "policy", "explain", examplePolicy, "--principal", "alice@corp.example.com", "--group", "okta:backup-admins",
		"--action", "enroll", "--target", "svc-backup@corp.example.com")
	wantAll(t, "explain enroll", out, "decision: ALLOW", `action:   enroll principal "svc-backup@corp.example.com"`,
		"allowed by role:node-enroller:enroll#2", "needs 2 distinct approvers")
	if out, err := run(t, "policy", "explain", examplePolicy, "--action", "delete"); err == nil || !strings.Contains(out, "--action") {
		t.Errorf("bad --action accepted (%v):\n%s", err, out)
	}
}

func TestPolicyDiff(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(examplePolicy)
	if err != nil {
		t.Fatal(err)
	}
	newer := strings.Replace(string(data), `revision: "2026-11-25.1"`, `revision: "2026-12-02.1"`, 1)
	newer = strings.Replace(newer, "    serve: [proxy]\n", "    serve: [proxy]\n    request:\n      - {service: repository, commands: [task.status]}\n", 1)
	path := filepath.Join(dir, "new.yaml")
	writeFile(t, path, newer, 0o644)
	out := mustRun(t, "policy", "diff", examplePolicy, path)
	wantAll(t, "diff", out, "revision 2026-11-25.1 -> 2026-12-02.1", `group "okta:backup-proxies"`,
		`deny -> ALLOW  request service "repository" command "task.status"  [default-deny -> role:proxy:request#1, line 28]`)
	if out, err := run(t, "policy", "diff", "--exit-code", examplePolicy, path); exitStatus(err) != 1 {
		t.Errorf("--exit-code with changes: %v\n%s", err, out)
	}
	out = mustRun(t, "policy", "diff", "--exit-code", examplePolicy, examplePolicy)
	wantAll(t, "diff of a file with itself", out, "no decision changes")
}

func TestPolicySignAndVerify(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	out := mustRun(t, "policy", "keygen", "secteam", "--dir", keys)
	wantAll(t, "keygen", out, "key id:  SHA256:", "secteam.pub", "secteam.secret (mode 0600")
	if fi, err := os.Stat(filepath.Join(keys, "secteam.secret")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v %v", fi.Mode(), err)
	}
	if out, err := run(t, "policy", "keygen", "secteam", "--dir", keys); err == nil {
		t.Errorf("keygen overwrote a key:\n%s", out)
	}
	data, _ := os.ReadFile(examplePolicy)
	pol := filepath.Join(dir, "policy.yaml")
	writeFile(t, pol, string(data), 0o644)
	pub, sec := filepath.Join(keys, "secteam.pub"), filepath.Join(keys, "secteam.secret")

	if out, err := run(t, "policy", "verify", "--key", pub, pol); err == nil || !strings.Contains(out, "no signature") {
		t.Errorf("unsigned file verified (%v):\n%s", err, out)
	}
	out = mustRun(t, "policy", "sign", "--key", sec, pol)
	wantAll(t, "sign", out, "signed "+pol+" (revision 2026-11-25.1) with key SHA256:", "wrote "+pol+".sig")
	out = mustRun(t, "policy", "verify", "--key", pub, pol)
	wantAll(t, "verify", out, pol+": good signature by key SHA256:")

	// The trusted keys can come from the configuration.
	cfg := filepath.Join(dir, "zapgate.yaml")
	writeFile(t, cfg, "policy:\n  file: "+pol+"\n  require_signature: true\n  trusted_keys: ["+pub+"]\n", 0o644)
	mustRun(t, "policy", "verify", "--config", cfg, pol)

	// One changed byte is refused.
	writeFile(t, pol, strings.Replace(string(data), "10.30.0.0/16", "10.30.0.0/15", 1), 0o644)
	if out, err := run(t, "policy", "verify", "--key", pub, pol); err == nil || !strings.Contains(out, "bad signature") {
		t.Errorf("tampered file verified (%v):\n%s", err, out)
	}
	writeFile(t, pol, string(data), 0o644)

	// A secret key readable by others is refused.
	if err := os.Chmod(sec, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "policy", "sign", "--key", sec, pol); err == nil || !strings.Contains(out, "chmod 600") {
		t.Errorf("world-readable secret key used (%v):\n%s", err, out)
	}
	os.Chmod(sec, 0o600)

	// A signature by another key is refused.
	mustRun(t, "policy", "keygen", "mallory", "--dir", keys)
	mustRun(t, "policy", "sign", "--key", filepath.Join(keys, "mallory.secret"), pol)
	if out, err := run(t, "policy", "verify", "--key", pub, pol); err == nil || !strings.Contains(out, "untrusted key") {
		t.Errorf("signature by an untrusted key verified (%v):\n%s", err, out)
	}

	// Signing refuses an invalid policy.
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "version: 1\nbogus: 1\n", 0o644)
	if out, err := run(t, "policy", "sign", "--key", sec, bad); err == nil || !strings.Contains(out, "refusing to sign") {
		t.Errorf("invalid policy signed (%v):\n%s", err, out)
	}
}

// TestPolicySignatureInteropWithOpenSSL checks the documented format: OpenSSL
// verifies zapgate's signatures, and zapgate signs with keys OpenSSL made.
func TestPolicySignatureInteropWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl missing: install Debian's openssl package (apt-get install openssl)")
	}
	dir := t.TempDir()
	ossl := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	data, _ := os.ReadFile(examplePolicy)
	pol := filepath.Join(dir, "policy.yaml")
	writeFile(t, pol, string(data), 0o644)

	// zapgate key and signature, verified by OpenSSL.
	mustRun(t, "policy", "keygen", "zg", "--dir", dir)
	mustRun(t, "policy", "sign", "--key", filepath.Join(dir, "zg.secret"), pol)
	sigFile, _ := os.ReadFile(pol + ".sig")
	var sigB64 string
	for _, line := range strings.Split(string(sigFile), "\n") {
		if v, ok := strings.CutPrefix(line, "signature: "); ok {
			sigB64 = v
		}
	}
	writeFile(t, filepath.Join(dir, "sig.b64"), sigB64+"\n", 0o644)
	ossl("base64", "-d", "-A", "-in", "sig.b64", "-out", "sig.bin")
	writeFile(t, filepath.Join(dir, "msg.bin"), "zapgate policy signature v1\n"+string(data), 0o644)
	ossl("pkeyutl", "-verify", "-pubin", "-inkey", "zg.pub", "-rawin", "-in", "msg.bin", "-sigfile", "sig.bin")

	// OpenSSL keys, used by zapgate.
	ossl("genpkey", "-algorithm", "ed25519", "-out", "ossl.secret")
	os.Chmod(filepath.Join(dir, "ossl.secret"), 0o600)
	ossl("pkey", "-in", "ossl.secret", "-pubout", "-out", "ossl.pub")
	mustRun(t, "policy", "sign", "--key", filepath.Join(dir, "ossl.secret"), pol)
	out := mustRun(t, "policy", "verify", "--key", filepath.Join(dir, "zg.pub"), "--key", filepath.Join(dir, "ossl.pub"), pol)
	wantAll(t, "verify", out, "ossl.pub")
}

func TestPolicyHelp(t *testing.T) {
	for _, verb := range []string{"check", "test", "explain", "diff", "sign", "verify", "keygen"} {
		out := mustRun(t, "policy", verb, "--help")
		wantAll(t, "policy "+verb+" --help", out, "Usage:", "Examples:", "zapgate policy "+verb)
	}
}

// exitStatus returns the process exit status in err, 0 for nil, -1 for
// other errors.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
