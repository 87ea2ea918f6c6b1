//go:build integration

package integration

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects a background process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The example programs work against the broker: a worker serves and
// publishes progress, a client starts a task, a subscriber sees the
// progress with the worker's principal.
func TestBrokerExamples(t *testing.T) {
	bin := t.TempDir()
	for _, ex := range []string{"worker", "client", "subscriber"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, ex), "../examples/"+ex)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", ex, err, out)
		}
	}
	r := startRelay(t, 500*time.Millisecond)
	args := func(principal string, rest ...string) []string {
		secret, server := r.certFiles(principal)
		return append([]string{"-endpoint", r.b.Endpoint(), "-broker-cert", server, "-cert", secret}, rest...)
	}
	start := func(name string, a []string) *lockedBuffer {
		out := &lockedBuffer{}
		cmd := exec.Command(filepath.Join(bin, name), a...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return out
	}
	workerOut := start("worker", args("PROXY01$"))
	subOut := start("subscriber", args("BACKUP01$", "-pattern", "job.status.*"))

	var out []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err = exec.Command(filepath.Join(bin, "client"), args("BACKUP01$", "proxy", "task.start", "job-7")...).CombinedOutput()
		if err == nil {
			break
		}
	}
	if err != nil || string(out) != "started\njob-7\n" {
		t.Fatalf("client: %v\n%s\nworker:\n%s", err, out, workerOut)
	}
	out, _ = exec.Command(filepath.Join(bin, "client"), args("BACKUP01$", "proxy", "repo.delete")...).CombinedOutput()
	if !strings.HasPrefix(string(out), "refused: 403 forbidden") {
		t.Fatalf("forbidden command: %s", out)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(subOut.String(), `job.status.job-7 from PROXY01$: ["100%"]`); {
		if time.Now().After(deadline) {
			t.Fatalf("subscriber output:\n%s", subOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
