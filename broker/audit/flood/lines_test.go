package flood

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the limiter's timer goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, ln := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if ln == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("log line %q: %v", ln, err)
		}
		out = append(out, m)
	}
	return out
}

func newLines(t *testing.T, buf *lockedBuffer, o LineLimiterOptions) *LineLimiter {
	t.Helper()
	o.Logger = slog.New(slog.NewJSONHandler(buf, nil)).With("component", "transport")
	o.Message = "connections of unauthenticated peers summarized"
	if o.Interval == 0 {
		o.Interval = time.Hour // tests flush by hand
	}
	l, err := NewLineLimiter(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func TestLineLimiterFirstPerSourceThenOneSummary(t *testing.T) {
	var buf lockedBuffer
	l := newLines(t, &buf, LineLimiterOptions{PerSource: 3})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	full := 0
	for i := 0; i < 100; i++ {
		kind := "accepted"
		if i%2 == 1 {
			kind = "handshake-failed"
		}
		if l.Allow(a, kind) {
			full++
		}
	}
	if full != 3 {
		t.Fatalf("source a: %d events in full, want 3", full)
	}
	if !l.Allow(b, "accepted") {
		t.Fatal("another source's first event was suppressed")
	}
	l.Count(b, "refused")
	l.Flush()
	lines := buf.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d summary lines, want one per source with suppressed events: %v", len(lines), lines)
	}
	got := map[string]map[string]any{}
	for _, ln := range lines {
		got[ln["source.ip"].(string)] = ln
		if ln["component"] != "transport" || ln["level"] != "INFO" {
			t.Errorf("summary line %v: want component=transport at INFO", ln)
		}
	}
	if s := got["192.0.2.1"]; s == nil || s["events"] != 100.0 || s["suppressed"] != 97.0 ||
		s["kinds"] != "accepted:48,handshake-failed:49" {
		t.Errorf("source a's summary: %v", s)
	}
	if s := got["192.0.2.2"]; s == nil || s["events"] != 2.0 || s["suppressed"] != 1.0 || s["kinds"] != "refused:1" {
		t.Errorf("source b's summary: %v", s)
	}
	// A new interval: the budget is back.
	if !l.Allow(a, "accepted") {
		t.Error("after the interval, source a's first event was suppressed")
	}
	if st := l.Stats(); st.Full != 5 || st.Suppressed != 98 || st.Summaries != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestLineLimiterBoundsSourcesAndTotal(t *testing.T) {
	var buf lockedBuffer
	l := newLines(t, &buf, LineLimiterOptions{PerSource: 2, MaxSources: 4, MaxLines: 5})
	full := 0
	for i := 0; i < 1000; i++ {
		src := netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", i/250, i%250))
		for j := 0; j < 3; j++ {
			if l.Allow(src, "accepted") {
				full++
			}
		}
	}
	if full != 5 {
		t.Fatalf("%d events in full, want MaxLines 5", full)
	}
	l.Flush()
	lines := buf.lines(t)
	if len(lines) != 5 { // 4 sources of their own + one shared
		t.Fatalf("%d summary lines, want 5: %v", len(lines), lines)
	}
	shared := 0
	for _, ln := range lines {
		if _, ok := ln["source.ip"]; !ok {
			shared++
			if ln["sources"] != 996.0 {
				t.Errorf("shared summary %v: want sources=996", ln)
			}
		}
	}
	if shared != 1 {
		t.Errorf("%d shared summaries, want 1", shared)
	}
}

func TestLineLimiterSummarizesOnItsOwn(t *testing.T) {
	var buf lockedBuffer
	l := newLines(t, &buf, LineLimiterOptions{PerSource: 1, Interval: 20 * time.Millisecond})
	src := netip.MustParseAddr("2001:db8::1")
	l.Allow(src, "accepted")
	l.Allow(src, "accepted")
	deadline := time.Now().Add(5 * time.Second)
	for len(buf.lines(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no summary line after the interval")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewLineLimiterChecksOptions(t *testing.T) {
	if _, err := NewLineLimiter(LineLimiterOptions{}); err == nil {
		t.Error("no message: want an error")
	}
	if _, err := NewLineLimiter(LineLimiterOptions{Message: "m", PerSource: -1}); err == nil {
		t.Error("negative per source: want an error")
	}
}
