package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// nextN reads n records from fl, failing after 10s.
func nextN(t *testing.T, fl *Follower, n int) []Entry {
	t.Helper()
	out, err := readN(fl, n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readN(fl *Follower, n int) ([]Entry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := make([]Entry, 0, n)
	for len(out) < n {
		e, err := fl.Next(ctx)
		if err != nil {
			return out, fmt.Errorf("after %d records: %w", len(out), err)
		}
		out = append(out, e)
	}
	return out, nil
}

func TestFollowerAcrossRotationsLive(t *testing.T) {
	dir := t.TempDir()
	opts, _ := testOptions(t, dir)
	opts.RotateBytes = 4096
	l := openLog(t, opts)
	fl := NewFollower(dir, FollowOptions{Source: l, Poll: time.Hour})
	defer fl.Close()
	type result struct {
		got []Entry
		err error
	}
	done := make(chan result)
	go func() {
		got, err := readN(fl, 50)
		done <- result{got, err}
	}()
	appendN(t, l, 50) // with rotation checkpoints, more than 50 records
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	got := res.got
	for i, e := range got {
		if e.Record.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, e.Record.Seq)
		}
	}
	if len(segmentPaths(t, dir)) < 3 {
		t.Error("no rotation happened")
	}
}

// limitSource reports a fixed durable seq.
type limitSource struct {
	last atomic.Uint64
	ch   chan struct{}
}

func (s *limitSource) LastSeq() uint64            { return s.last.Load() }
func (s *limitSource) Committed() <-chan struct{} { return s.ch }

func TestFollowerStopsAtDurableSeq(t *testing.T) {
	dir := goldenLog(t, 10)
	src := &limitSource{ch: make(chan struct{})}
	src.last.Store(4)
	fl := NewFollower(dir, FollowOptions{Source: src, Poll: 10 * time.Millisecond})
	defer fl.Close()
	nextN(t, fl, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if e, err := fl.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read past the durable seq: %+v %v", e.Record.Seq, err)
	}
	src.last.Store(100)
	if e := nextN(t, fl, 1)[0]; e.Record.Seq != 5 {
		t.Fatalf("next is %d", e.Record.Seq)
	}
}

func TestFollowerFromCursor(t *testing.T) {
	dir := goldenLog(t, 30)
	var all []Record
	files, _, _ := ResolvePaths([]string{dir})
	must(t, Scan(files, ScanOptions{}, func(e *Entry) error { all = append(all, e.Record); return nil }))
	fl := NewFollower(dir, FollowOptions{From: 21, PrevHash: all[19].Hash, Poll: 10 * time.Millisecond})
	got := nextN(t, fl, 5)
	fl.Close()
	if got[0].Record.Seq != 21 || got[4].Record.Seq != 25 {
		t.Fatalf("got %d..%d", got[0].Record.Seq, got[4].Record.Seq)
	}
	fl = NewFollower(dir, FollowOptions{From: 21, PrevHash: all[3].Hash, Poll: 10 * time.Millisecond})
	defer fl.Close()
	_, err := fl.Next(context.Background())
	var ce *ChainError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "the log was replaced") {
		t.Fatalf("cursor mismatch: %v", err)
	}
}

func TestFollowerStartsAtOldestWhenFilesAreGone(t *testing.T) {
	dir := goldenLog(t, 30)
	files := segmentPaths(t, dir)
	must(t, os.Remove(files[0]))
	first, _ := parseSegmentName(files[1][strings.LastIndex(files[1], "/")+1:])
	fl := NewFollower(dir, FollowOptions{From: 2, Poll: 10 * time.Millisecond})
	defer fl.Close()
	if e := nextN(t, fl, 1)[0]; e.Record.Seq != first {
		t.Fatalf("first record %d, oldest file starts at %d", e.Record.Seq, first)
	}
}

func TestFollowerReportsTampering(t *testing.T) {
	dir := goldenLog(t, 10)
	files := segmentPaths(t, dir)
	rewrite(t, files[0], func(l [][]byte) [][]byte { return append(l[:1], l[2:]...) })
	fl := NewFollower(dir, FollowOptions{Poll: 10 * time.Millisecond})
	defer fl.Close()
	nextN(t, fl, 1)
	_, err := fl.Next(context.Background())
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Line != 2 {
		t.Fatalf("err %v", err)
	}
}
