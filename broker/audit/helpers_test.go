package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testPriv and testPub are a fixed checkpoint keypair shared by the tests
// and the crash tests' child processes.
var testPriv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

var testPub = testPriv.Public().(ed25519.PublicKey)

// testNow is a fixed time for records built in tests.
var testNow = time.Date(2026, 11, 25, 14, 3, 22, 123456000, time.UTC)

// logBuffer collects a test's log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testOptions returns options for a log in dir with a checkpoint key, a
// captured logger and short intervals.
func testOptions(t testing.TB, dir string) (Options, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	return Options{
		Dir:                dir,
		CheckpointKey:      testPriv,
		CheckpointInterval: time.Hour,
		RetryInterval:      20 * time.Millisecond,
		Logger:             slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, lb
}

// openLog opens a log and closes it at cleanup.
func openLog(t testing.TB, opts Options) *Log {
	t.Helper()
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// sampleRecord is a realistic decision record numbered i.
func sampleRecord(i int) Record {
	return Record{
		Action:   ActionRequest,
		Outcome:  OutcomeSuccess,
		Reason:   "allowed",
		User:     fmt.Sprintf("PROXY%02d$", i%50),
		Roles:    []string{"proxy"},
		Groups:   []string{"CN=Backup Proxies,OU=Groups,DC=corp,DC=example,DC=com", "okta:backup-proxies"},
		Key:      "SHA256:q3n1mQe6Nqk0Wc3T",
		SourceIP: netip.MustParseAddr("10.20.1.7"),
		Service:  "repository",
		Command:  "task.status",
		RuleID:   "roles.proxy.request[0]",
		Ruleset:  "2026-11-25.1",
	}
}

// appendN appends n sample records and fails the test on error.
func appendN(t testing.TB, l *Log, n int) []Receipt {
	t.Helper()
	out := make([]Receipt, 0, n)
	for i := 0; i < n; i++ {
		r, err := l.Append(context.Background(), sampleRecord(i))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, r)
	}
	return out
}

// mustVerify verifies dir with the test key and returns the result.
func mustVerify(t testing.TB, dir string) VerifyResult {
	t.Helper()
	res, err := verifyDir(dir)
	if err != nil {
		t.Fatalf("verify %s: %v", dir, err)
	}
	return res
}

// verifyDir verifies a whole directory as `zapgate audit verify DIR` does.
func verifyDir(dir string) (VerifyResult, error) {
	files, head, err := ResolvePaths([]string{dir})
	if err != nil {
		return VerifyResult{}, err
	}
	return Verify(files, VerifyOptions{Key: testPub, Head: head, Dir: dir})
}

// segmentPaths lists the segment files of dir.
func segmentPaths(t testing.TB, dir string) []string {
	t.Helper()
	segs, err := Segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range segs {
		out = append(out, s.Path)
	}
	return out
}

// readLines returns the lines of a file.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(data, []byte("\n"))
}

var _ = filepath.Join
