package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAppendCloseVerify(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	l := openLog(t, opts)
	rs := appendN(t, l, 10)
	for i, r := range rs {
		if r.Seq != uint64(i+1) || !validHash(r.Hash) || !validEventID(r.ID) {
			t.Fatalf("receipt %d: %+v", i, r)
		}
	}
	if l.LastSeq() != 10 {
		t.Errorf("LastSeq = %d", l.LastSeq())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := l.Append(context.Background(), sampleRecord(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
	res := mustVerify(t, dir)
	if res.Records != 11 || res.Checkpoints != 1 || res.HeadSeq != 11 || res.LastCheckpoint != 11 {
		t.Fatalf("%+v", res)
	}
	st, h := l.Stats(), l.Health()
	if st.Appended != 10 || st.Written != 11 || st.Checkpoints != 1 || st.Fsyncs == 0 || st.Failures != 0 {
		t.Errorf("stats %+v", st)
	}
	if h.Status != "closed" || h.OK {
		t.Errorf("health after close %+v", h)
	}
}

func TestConcurrentAppendersGroupCommit(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	l := openLog(t, opts)
	const workers, each = 64, 50
	var wg sync.WaitGroup
	seqs := make([]atomic.Bool, workers*each+1)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, err := l.Append(context.Background(), sampleRecord(i))
				if err != nil {
					t.Error(err)
					return
				}
				if r.Seq == 0 || r.Seq > workers*each || seqs[r.Seq].Swap(true) {
					t.Errorf("bad or duplicate seq %d", r.Seq)
				}
			}
		}()
	}
	wg.Wait()
	st := l.Stats()
	if st.Appended != workers*each {
		t.Fatalf("appended %d", st.Appended)
	}
	if st.Batches >= st.Appended {
		t.Errorf("no group commit: %d batches for %d records", st.Batches, st.Appended)
	}
	t.Logf("%d records in %d batches (%.1f per fsync)", st.Appended, st.Batches, float64(st.Appended)/float64(st.Fsyncs))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, dir)
}

func TestReopenContinuesChain(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	for round := 0; round < 3; round++ {
		l, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 5)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	res := mustVerify(t, dir)
	if res.Records != 18 || res.Files != 1 || res.Checkpoints != 3 {
		t.Errorf("%+v", res)
	}
}

func TestRotationBySizeChainsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	opts.RotateBytes = 4096
	l := openLog(t, opts)
	appendN(t, l, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := segmentPaths(t, dir)
	if len(files) < 3 {
		t.Fatalf("only %d files", len(files))
	}
	res := mustVerify(t, dir)
	if res.Files != len(files) || int(res.Checkpoints) != len(files) {
		t.Errorf("%d files, result %+v", len(files), res)
	}
	// Every file but the last ends with a rotation checkpoint, and the next
	// file's first record chains to it.
	for i := 0; i+1 < len(files); i++ {
		lines := readLines(t, files[i])
		last, err := ParseRecord(trimNL(lines[len(lines)-2]))
		if err != nil || last.Action != ActionCheckpoint || last.Reason != checkpointRotate {
			t.Fatalf("%s ends with %+v (%v)", files[i], last, err)
		}
		first, err := ParseRecord(trimNL(readLines(t, files[i+1])[0]))
		if err != nil || first.PrevHash != last.Hash || first.Seq != last.Seq+1 {
			t.Fatalf("%s does not chain to %s", files[i+1], files[i])
		}
		if seq, _ := parseSegmentName(filepath.Base(files[i+1])); seq != first.Seq {
			t.Fatalf("name %s, first seq %d", files[i+1], first.Seq)
		}
	}
	if l.Stats().Rotations != uint64(len(files)-1) {
		t.Errorf("rotations %d", l.Stats().Rotations)
	}
}

func trimNL(b []byte) []byte { return []byte(strings.TrimSuffix(string(b), "\n")) }

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRotationByAgeAndPeriodicCheckpoints(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	clock := &fakeClock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	opts.Now = clock.Now
	opts.RotateAge = time.Hour
	opts.CheckpointInterval = time.Minute
	opts.RetryInterval = 5 * time.Millisecond
	l := openLog(t, opts)
	appendN(t, l, 3)
	clock.Add(2 * time.Minute)
	waitFor(t, "periodic checkpoint", func() bool { return l.Stats().Checkpoints == 1 })
	clock.Add(2 * time.Minute)
	time.Sleep(30 * time.Millisecond)
	if n := l.Stats().Checkpoints; n != 1 {
		t.Errorf("idle log wrote %d checkpoints", n)
	}
	clock.Add(time.Hour)
	appendN(t, l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentPaths(t, dir)); n != 2 {
		t.Errorf("%d files after an hour", n)
	}
	res := mustVerify(t, dir)
	// 3 records, periodic, rotation checkpoint, 2 records, close checkpoint.
	if res.Records != 8 || res.Checkpoints != 3 {
		t.Errorf("%+v", res)
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAppendAsyncAndContext(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	l := openLog(t, opts)
	p, err := l.AppendAsync(sampleRecord(1))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	r, err := p.Wait(context.Background())
	if err != nil || r.Seq != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, sampleRecord(2)); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) || MayProceed(err) {
		t.Errorf("canceled append: %v", err)
	}
	if _, err := l.Append(context.Background(), Record{Action: "bad action", Outcome: OutcomeSuccess}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("invalid record: %v", err)
	}
}

func TestMaxPendingBusy(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	opts.MaxPending = 1
	block := make(chan struct{})
	opts.writeChunk = 1 << 30
	var once sync.Once
	opts.afterChunk = func() { once.Do(func() { <-block }) }
	l := openLog(t, opts)
	first, err := l.AppendAsync(sampleRecord(0))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "writer to take the first batch", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.queued == 0 })
	second, err := l.AppendAsync(sampleRecord(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendAsync(sampleRecord(2)); !errors.Is(err, ErrBusy) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("third append: %v", err)
	}
	close(block)
	for _, p := range []Pending{first, second} {
		if _, err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if l.Stats().Busy != 1 {
		t.Errorf("busy = %d", l.Stats().Busy)
	}
}

func TestOpenRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"no dir":      {},
		"tiny rotate": {Dir: t.TempDir(), RotateBytes: 10},
		"short key":   {Dir: t.TempDir(), CheckpointKey: []byte("short")},
	} {
		if _, err := Open(o); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: file}); err == nil {
		t.Error("opened a file as directory")
	}
}

func TestNoKeyWarnsAndWritesNoCheckpoints(t *testing.T) {
	dir := t.TempDir()
	opts, logs := testOptions(t, dir)
	opts.CheckpointKey = nil
	l := openLog(t, opts)
	appendN(t, l, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "checkpoint_key is not set") || !strings.Contains(logs.String(), "component=audit") {
		t.Errorf("no warning:\n%s", logs)
	}
	files, head, err := ResolvePaths([]string{dir})
	if err != nil || head != "" {
		t.Fatalf("head %q, %v", head, err)
	}
	res, err := Verify(files, VerifyOptions{Dir: dir})
	if err != nil || res.Checkpoints != 0 || len(res.Notes) == 0 {
		t.Errorf("%+v %v", res, err)
	}
}
