package flood

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of LineLimiterOptions.
const (
	DefaultLinesPerSource = 5
	DefaultMaxLines       = 200
)

// LineLimiterOptions configure a LineLimiter. Zero fields take the
// defaults named in their comments.
type LineLimiterOptions struct {
	// Logger receives the summary lines (default: discard). Give it the
	// attributes of the lines it bounds (component=transport).
	Logger *slog.Logger
	// Level is the summary lines' level (default info).
	Level slog.Level
	// Message is the summary lines' message. Required.
	Message string
	// PerSource is how many events of one source are logged in full per
	// interval (default 5).
	PerSource int
	// Interval is the summary period (default 10s).
	Interval time.Duration
	// MaxSources bounds the sources tracked per interval (default 256);
	// further sources share one summary without source.ip.
	MaxSources int
	// MaxLines bounds the events logged in full per interval over all
	// sources (default 200).
	MaxLines int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// LineLimiter bounds the log lines about peers nobody authenticated the
// way Aggregator bounds their audit records (the same budget): per
// source and interval the first PerSource events are logged in full by
// the caller, the rest are counted by kind, and at the end of the interval
// one summary line per source holds the counts. It is safe for concurrent
// use; Close stops its timer.
type LineLimiter struct {
	o   LineLimiterOptions
	log *slog.Logger

	mu sync.Mutex
	b  budget

	stop chan struct{}
	done chan struct{}
	once sync.Once
	ctr  struct{ full, counted, summaries atomic.Uint64 }
}

// NewLineLimiter checks o and starts the interval timer.
func NewLineLimiter(o LineLimiterOptions) (*LineLimiter, error) {
	if o.Message == "" {
		return nil, errors.New("flood: a line limiter needs a summary message")
	}
	if o.PerSource < 0 || o.Interval < 0 || o.MaxSources < 0 || o.MaxLines < 0 {
		return nil, fmt.Errorf("flood: invalid line limiter options: per source %d, interval %s, max sources %d, max lines %d",
			o.PerSource, o.Interval, o.MaxSources, o.MaxLines)
	}
	if o.PerSource == 0 {
		o.PerSource = DefaultLinesPerSource
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxSources == 0 {
		o.MaxSources = DefaultMaxSources
	}
	if o.MaxLines == 0 {
		o.MaxLines = DefaultMaxLines
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &LineLimiter{o: o, log: log, b: newBudget(o.PerSource, o.MaxSources, o.MaxLines),
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// Allow accounts for one event of src of the given kind ("accepted",
// "handshake-failed"). It reports whether the caller should log it in
// full; otherwise it is counted for the source's summary line. A nil
// LineLimiter allows every line.
func (l *LineLimiter) Allow(src netip.Addr, kind string) bool {
	if l == nil {
		return true
	}
	now := l.o.Now()
	l.mu.Lock()
	full := l.b.take(src, now, kind, "", true)
	l.mu.Unlock()
	if full {
		l.ctr.full.Add(1)
	} else {
		l.ctr.counted.Add(1)
	}
	return full
}

// Count accounts for an event that is never logged in full: it only
// appears in the summary.
func (l *LineLimiter) Count(src netip.Addr, kind string) {
	now := l.o.Now()
	l.mu.Lock()
	l.b.take(src, now, kind, "", false)
	l.mu.Unlock()
	l.ctr.counted.Add(1)
}

func (l *LineLimiter) run() {
	defer close(l.done)
	tick := time.NewTicker(l.o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.Flush()
		case <-l.stop:
			l.Flush()
			return
		}
	}
}

// Flush ends the interval now: it logs one summary line per source whose
// events were counted, and resets every source's budget.
func (l *LineLimiter) Flush() {
	l.mu.Lock()
	sources, other := l.b.reset()
	l.mu.Unlock()
	for src, t := range sources {
		l.summarize(src, t, false)
	}
	if other != nil {
		l.summarize(netip.Addr{}, other, true)
	}
}

func (l *LineLimiter) summarize(src netip.Addr, t *tally, merged bool) {
	if t.counted == 0 {
		return
	}
	l.ctr.summaries.Add(1)
	attrs := []slog.Attr{slog.Int("events", t.total), slog.Int("suppressed", t.counted),
		slog.String("kinds", t.reasonList()),
		slog.Time("first", t.first), slog.Time("last", t.last)}
	switch {
	case merged:
		attrs = append(attrs, slog.Int("sources", t.sources))
	case src.IsValid():
		attrs = append([]slog.Attr{slog.String("source.ip", src.String())}, attrs...)
	default: // events whose source the caller could not tell
		attrs = append([]slog.Attr{slog.String("source.ip", "unknown")}, attrs...)
	}
	l.log.LogAttrs(context.Background(), l.o.Level, l.o.Message, attrs...)
}

// LineLimiterStats counts a LineLimiter's work since it started.
type LineLimiterStats struct {
	// Full counts events the caller was told to log in full.
	Full uint64
	// Suppressed counts events only counted (for a summary).
	Suppressed uint64
	// Summaries counts summary lines logged.
	Summaries uint64
}

// Stats returns the limiter's counters.
func (l *LineLimiter) Stats() LineLimiterStats {
	return LineLimiterStats{Full: l.ctr.full.Load(), Suppressed: l.ctr.counted.Load(), Summaries: l.ctr.summaries.Load()}
}

// Close logs the last summaries and stops the timer.
func (l *LineLimiter) Close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}
