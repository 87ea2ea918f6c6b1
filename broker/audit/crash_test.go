package audit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The crash tests re-execute the test binary as a writer (TestCrashChild),
// SIGKILL it mid-batch, reopen the log and verify it.

const (
	crashDirEnv  = "ZAPGATE_AUDIT_CRASH_DIR"
	crashModeEnv = "ZAPGATE_AUDIT_CRASH_MODE"
)

// TestCrashChild is the writer process; it does nothing in a normal run.
// It appends from 16 goroutines, printing "ACK seq hash" for every durable
// record. In mode "torn" it writes batches in 97-byte pieces and, once 50
// records and a checkpoint are durable, prints TORN after a piece of a
// batch and hangs there, so the kill always leaves a torn line.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return
	}
	opts := Options{Dir: dir, CheckpointKey: testPriv, CheckpointInterval: 20 * time.Millisecond, RotateBytes: 64 << 10,
		Logger: slog.New(slog.DiscardHandler)}
	var acked sync.WaitGroup
	var mu sync.Mutex
	count := 0
	var l *Log
	if os.Getenv(crashModeEnv) == "torn" {
		opts.writeChunk = 97
		opts.afterChunk = func() {
			mu.Lock()
			n := count
			mu.Unlock()
			if n >= 50 && l.Stats().Checkpoints > 0 {
				fmt.Println("TORN")
				select {}
			}
		}
	}
	l, err := Open(opts)
	if err != nil {
		fmt.Println("OPEN-ERROR", err)
		os.Exit(3)
	}
	fmt.Println("READY")
	for g := 0; g < 16; g++ {
		acked.Add(1)
		go func() {
			for i := 0; ; i++ {
				r, err := l.Append(context.Background(), sampleRecord(i))
				if err != nil {
					fmt.Println("APPEND-ERROR", err)
					os.Exit(4)
				}
				fmt.Printf("ACK %d %s\n", r.Seq, r.Hash)
				mu.Lock()
				count++
				mu.Unlock()
			}
		}()
	}
	acked.Wait()
}

// crashRun starts a writer on dir, waits until ready(line) says to kill
// it, SIGKILLs it, and returns the acknowledged seq → hash.
func crashRun(t *testing.T, dir, mode string, ready func(line string, acks int) bool) map[uint64]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashModeEnv+"="+mode)
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	acks := map[uint64]string{}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		var seq uint64
		var hash string
		if n, _ := fmt.Sscanf(line, "ACK %d %s", &seq, &hash); n == 2 {
			acks[seq] = hash
		} else if strings.Contains(line, "ERROR") {
			t.Errorf("writer: %s", line)
		}
		if !killed && ready(line, len(acks)) {
			must(t, cmd.Process.Kill())
			killed = true
		}
	}
	_, _ = io.Copy(io.Discard, out)
	_ = cmd.Wait()
	if !killed {
		t.Fatal("writer ended before it was killed")
	}
	return acks
}

// checkAcked fails if an acknowledged record is missing or different.
func checkAcked(t *testing.T, dir string, acks map[uint64]string) {
	t.Helper()
	files, _, err := ResolvePaths([]string{dir})
	must(t, err)
	got := map[uint64]string{}
	must(t, Scan(files, ScanOptions{}, func(e *Entry) error { got[e.Record.Seq] = e.Record.Hash; return nil }))
	for seq, h := range acks {
		if got[seq] != h {
			t.Fatalf("acknowledged record %d lost or changed after the crash", seq)
		}
	}
}

func TestCrashTornLineRecovered(t *testing.T) {
	dir := t.TempDir()
	acks := crashRun(t, dir, "torn", func(line string, _ int) bool { return line == "TORN" })
	if len(acks) < 50 {
		t.Fatalf("only %d acks", len(acks))
	}
	if res, err := verifyDir(dir); err != nil || !strings.Contains(strings.Join(res.Notes, "\n"), "last line incomplete") {
		t.Fatalf("before recovery verify says %v %v", res.Notes, err)
	}
	files, _, _ := ResolvePaths([]string{dir})
	if err := Scan(files, ScanOptions{}, func(*Entry) error { return nil }); err == nil || !strings.Contains(err.Error(), "torn last line") {
		t.Fatalf("strict scan before recovery: %v", err)
	}
	opts, logs := testOptions(t, dir)
	l := openLog(t, opts)
	r, err := l.Append(context.Background(), sampleRecord(1))
	must(t, err)
	must(t, l.Close())
	if !strings.Contains(logs.String(), "recovered from an interrupted write") {
		t.Errorf("recovery not logged:\n%s", logs)
	}
	torn, _ := filepath.Glob(filepath.Join(dir, "*.torn"))
	if len(torn) != 1 {
		t.Fatalf("torn files: %v", torn)
	}
	if data, _ := os.ReadFile(torn[0]); len(data) == 0 || strings.Contains(string(data), "\n") {
		t.Errorf("torn file holds %q", data)
	}
	res := mustVerify(t, dir)
	checkAcked(t, dir, acks)
	var rec *Record
	must(t, Scan(files, ScanOptions{}, func(e *Entry) error {
		if e.Record.Action == ActionRecovered {
			c := e.Record
			rec = &c
		}
		return nil
	}))
	if rec == nil || rec.Severity != SeverityCritical || !strings.Contains(rec.Reason, filepath.Base(torn[0])) || rec.Seq >= r.Seq {
		t.Fatalf("recovered record %+v (append got seq %d)", rec, r.Seq)
	}
	t.Logf("recovered: %s; log verifies with %d records", rec.Reason, res.Records)
}

func TestCrashRandomKills(t *testing.T) {
	dir := t.TempDir()
	all := map[uint64]string{}
	for round := 0; round < 5; round++ {
		after := 20 + rand.IntN(200)
		acks := crashRun(t, dir, "random", func(_ string, n int) bool { return n >= after })
		for k, v := range acks {
			all[k] = v
		}
	}
	opts, _ := testOptions(t, dir)
	l := openLog(t, opts)
	appendN(t, l, 1)
	must(t, l.Close())
	mustVerify(t, dir)
	checkAcked(t, dir, all)
}

func TestOpenRefusesDamageBeforeTheEnd(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	l := openLog(t, opts)
	appendN(t, l, 6)
	must(t, l.Close())
	path := segmentPaths(t, dir)[0]
	rewrite(t, path, func(l [][]byte) [][]byte {
		l[1] = []byte("garbage\n")
		return l
	})
	_, err := Open(opts)
	if err == nil || !strings.Contains(err.Error(), "damaged before its end") || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("open: %v", err)
	}
}

func TestOpenRefusesTruncationBelowCheckpoint(t *testing.T) {
	dir := goldenLog(t, 6)
	files := segmentPaths(t, dir)
	rewrite(t, files[len(files)-1], func(l [][]byte) [][]byte { return l[:len(l)-1] })
	opts, _ := testOptions(t, dir)
	if _, err := Open(opts); err == nil || !strings.Contains(err.Error(), "truncated or files removed") {
		t.Fatalf("open: %v", err)
	}
	must(t, os.Remove(files[len(files)-1]))
	if _, err := Open(opts); err == nil {
		t.Fatal("opened with the newest file removed")
	}
}
