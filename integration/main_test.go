//go:build integration

package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// zapgateBin is the zapgate binary built once for the suite.
var zapgateBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zapgate-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	zapgateBin = filepath.Join(dir, "zapgate")
	build := exec.Command("go", "build", "-race", "-o", zapgateBin, "../cmd/zapgate")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building zapgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes the zapgate binary and returns its combined output.
func run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(zapgateBin, args...).CombinedOutput()
	return string(out), err
}

// mustRun is run that fails the test on a non-zero exit.
func mustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("zapgate %v: %v\n%s", args, err, out)
	}
	return out
}

// python runs a script with Debian's python3 and python3-zmq; a missing
// interpreter or module fails the test with the fix.
func python(t *testing.T, script string, args ...string) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s missing: run `make deps` (installs python3-zmq)", py)
	}
	cmd := exec.Command(py, append([]string{"-c", script}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s\n(if zmq is missing, run `make deps`, which installs python3-zmq)", err, out)
	}
	return string(out)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
