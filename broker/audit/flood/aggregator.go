package flood

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
)

// Defaults of AggregatorOptions.
const (
	DefaultPerSource  = 5
	DefaultInterval   = 10 * time.Second
	DefaultMaxSources = 256
	DefaultMaxRecords = 200
	// maxKeys bounds the key fingerprints sampled per summary record.
	maxKeys = 8
	// maxReasons bounds the distinct reasons counted per source; further
	// ones are counted as "other".
	maxReasons = 8
)

// AggregatorOptions configure an Aggregator. Zero fields take the defaults
// named in their comments.
type AggregatorOptions struct {
	// Action is the summary records' "event.action", e.g.
	// "authn.refusals". Required.
	Action string
	// Submit queues a record for the audit log without waiting for it to
	// be durable (audit.Log.AppendAsync). Required.
	Submit func(audit.Record) error
	// PerSource is how many refusals of one source are written in full per
	// interval (default 5); the rest are counted.
	PerSource int
	// Interval is the summary period (default 10s).
	Interval time.Duration
	// MaxSources bounds the sources tracked per interval (default 256);
	// refusals of further sources share one bucket with no source.ip.
	MaxSources int
	// MaxRecords bounds the refusals written in full per interval over all
	// sources (default 200).
	MaxRecords int
	// Reserve, when set, stops full records while the audit filesystem
	// is below it: refusals are then only counted, and the interval's
	// summaries are merged into one record.
	Reserve *Reserve
	// Logger receives one line per summary, with component=audit
	// (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Aggregator bounds the audit records of refusals of unauthenticated
// peers. Per source and interval the first PerSource refusals are
// written in full; the rest are counted, and at the end of the interval
// one summary record per source holds the counts by reason, a sample of
// key fingerprints and the first and last time. No call waits for the
// disk. It is safe for concurrent use.
type Aggregator struct {
	o   AggregatorOptions
	log *slog.Logger

	mu sync.Mutex
	b  budget // this interval's tallies

	stop chan struct{}
	done chan struct{}
	once sync.Once
	ctr  struct{ full, counted, summaries, errors atomic.Uint64 }
}

// NewAggregator checks o and starts the interval timer; Close stops it.
func NewAggregator(o AggregatorOptions) (*Aggregator, error) {
	if o.Action == "" || o.Submit == nil {
		return nil, errors.New("flood: an aggregator needs an action and a submit function")
	}
	if o.PerSource < 0 || o.Interval < 0 || o.MaxSources < 0 || o.MaxRecords < 0 {
		return nil, fmt.Errorf("flood: invalid aggregator options: per source %d, interval %s, max sources %d, max records %d",
			o.PerSource, o.Interval, o.MaxSources, o.MaxRecords)
	}
	if o.PerSource == 0 {
		o.PerSource = DefaultPerSource
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxSources == 0 {
		o.MaxSources = DefaultMaxSources
	}
	if o.MaxRecords == 0 {
		o.MaxRecords = DefaultMaxRecords
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Aggregator{o: o, log: log.With("component", "audit"), b: newBudget(o.PerSource, o.MaxSources, o.MaxRecords),
		stop: make(chan struct{}), done: make(chan struct{})}
	go a.run()
	return a, nil
}

// Refuse accounts for the refusal rec (Outcome and Reason set by the
// caller): it is queued in full while the source's budget lasts and the
// reserve holds, else counted for the summary. It never waits for the
// disk; it reports whether the record was queued in full.
func (a *Aggregator) Refuse(rec audit.Record) bool {
	return a.account(rec, true)
}

// Count accounts for a refusal that is never written in full (a request
// refused by a rate limit): it only appears in the summary.
func (a *Aggregator) Count(rec audit.Record) { a.account(rec, false) }

func (a *Aggregator) account(rec audit.Record, mayWrite bool) bool {
	now := a.o.Now()
	low := a.o.Reserve.Low()
	a.mu.Lock()
	full := a.b.take(rec.SourceIP, now, rec.Reason, rec.Key, mayWrite && !low)
	a.mu.Unlock()
	if !full {
		a.ctr.counted.Add(1)
		return false
	}
	a.ctr.full.Add(1)
	if err := a.o.Submit(rec); err != nil {
		a.ctr.errors.Add(1)
		a.log.Warn("audit record of an unauthenticated refusal not queued", "reason", rec.Reason, "source.ip", rec.SourceIP, "error", err)
	}
	return true
}

func (a *Aggregator) run() {
	defer close(a.done)
	tick := time.NewTicker(a.o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			a.Flush()
		case <-a.stop:
			a.Flush()
			return
		}
	}
}

// Flush ends the interval now: it queues the summary records of the
// refusals counted so far and resets every source's budget.
func (a *Aggregator) Flush() {
	a.mu.Lock()
	sources, other := a.b.reset()
	a.mu.Unlock()
	if a.o.Reserve.Low() {
		// Below the reserve: one record for the whole interval.
		m := &tally{}
		for _, t := range sources {
			m.merge(t)
			m.sources++
		}
		if other != nil {
			m.merge(other)
			m.sources += other.sources
		}
		a.summarize(netip.Addr{}, m, true)
		return
	}
	for src, t := range sources {
		a.summarize(src, t, false)
	}
	if other != nil {
		a.summarize(netip.Addr{}, other, true)
	}
}

// summarize queues the summary record of t, if it counted anything.
func (a *Aggregator) summarize(src netip.Addr, t *tally, merged bool) {
	if t.counted == 0 {
		return
	}
	rec := audit.Record{
		Action: a.o.Action, Outcome: audit.OutcomeFailure, Severity: audit.SeverityWarning,
		SourceIP: src, Reason: t.reason(merged), Time: t.last,
	}
	a.ctr.summaries.Add(1)
	a.log.Warn("refusals of unauthenticated peers summarized", "event.action", a.o.Action, "source.ip", src,
		"refusals", t.total, "counted", t.counted)
	if err := a.o.Submit(rec); err != nil {
		a.ctr.errors.Add(1)
		a.log.Warn("summary of unauthenticated refusals not queued", "source.ip", src, "error", err)
	}
}

// reason is the summary's "event.reason" (format in docs/audit.md):
//
//	refusals=N counted=C first=T last=T reasons="unknown-key:C1,…" keys="fp1,fp2" more_keys=K sources=S
func (t *tally) reason(merged bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "refusals=%d counted=%d first=%s last=%s", t.total, t.counted,
		t.first.UTC().Format(time.RFC3339Nano), t.last.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(&b, " reasons=%q keys=%q", t.reasonList(), strings.Join(t.keys, ","))
	if t.moreKeys > 0 {
		fmt.Fprintf(&b, " more_keys=%d", t.moreKeys)
	}
	if merged {
		fmt.Fprintf(&b, " sources=%d", t.sources)
	}
	return b.String()
}

// AggregatorStats counts an Aggregator's work since it started.
type AggregatorStats struct {
	// Full counts refusals queued as full records.
	Full uint64
	// Counted counts refusals only counted (for a summary).
	Counted uint64
	// Summaries counts summary records queued.
	Summaries uint64
	// Errors counts records the audit log refused to queue.
	Errors uint64
}

// Stats returns the aggregator's counters.
func (a *Aggregator) Stats() AggregatorStats {
	return AggregatorStats{Full: a.ctr.full.Load(), Counted: a.ctr.counted.Load(),
		Summaries: a.ctr.summaries.Load(), Errors: a.ctr.errors.Load()}
}

// Close writes the last summaries and stops the timer. Close it before
// the audit log.
func (a *Aggregator) Close() {
	a.once.Do(func() { close(a.stop) })
	<-a.done
}
