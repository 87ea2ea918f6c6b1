package flood

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
)

// sink collects submitted records.
type sink struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (s *sink) submit(r audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r)
	return nil
}

func (s *sink) records() []audit.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]audit.Record(nil), s.recs...)
}

func newAgg(t *testing.T, s *sink, o AggregatorOptions) *Aggregator {
	t.Helper()
	o.Action, o.Submit = "authn.refusals", s.submit
	if o.Interval == 0 {
		o.Interval = time.Hour // tests flush by hand
	}
	a, err := NewAggregator(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func refusal(src string, i int) audit.Record {
	return audit.Record{Action: audit.ActionConnect, Outcome: audit.OutcomeFailure, Reason: "unknown-key",
		SourceIP: netip.MustParseAddr(src), Key: fmt.Sprintf("fp%04d", i)}
}

func TestAggregatorBoundsRecordsPerSource(t *testing.T) {
	s := &sink{}
	a := newAgg(t, s, AggregatorOptions{PerSource: 3})
	for i := 0; i < 1000; i++ {
		a.Refuse(refusal("192.0.2.7", i))
	}
	a.Refuse(refusal("192.0.2.8", 0))
	a.Flush()
	recs := s.records()
	// 3 full + 1 summary for .7, 1 full for .8 (nothing counted: no summary).
	if len(recs) != 5 {
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	sum := recs[4]
	if sum.Action != "authn.refusals" || sum.SourceIP.String() != "192.0.2.7" || sum.Outcome != audit.OutcomeFailure {
		t.Fatalf("summary %+v", sum)
	}
	for _, want := range []string{"refusals=1000 ", "counted=997 ", `reasons="unknown-key:997"`, "fp0003,", "more_keys=989"} {
		if !strings.Contains(sum.Reason, want) {
			t.Errorf("summary reason lacks %q: %s", want, sum.Reason)
		}
	}
	if len(sum.Reason) > audit.MaxReasonBytes {
		t.Errorf("summary reason %d bytes", len(sum.Reason))
	}
	// A new interval gives the source a new budget.
	a.Refuse(refusal("192.0.2.7", 5000))
	if n := len(s.records()); n != 6 {
		t.Fatalf("after flush: %d records", n)
	}
	if st := a.Stats(); st.Full != 5 || st.Counted != 997 || st.Summaries != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAggregatorBoundsSourcesAndTotal(t *testing.T) {
	s := &sink{}
	a := newAgg(t, s, AggregatorOptions{PerSource: 2, MaxSources: 4, MaxRecords: 6})
	for src := 0; src < 100; src++ {
		for i := 0; i < 10; i++ {
			a.Refuse(refusal(fmt.Sprintf("10.0.%d.%d", src/250, src%250+1), i))
		}
	}
	full := len(s.records())
	if full != 6 {
		t.Fatalf("%d full records, want the total budget 6", full)
	}
	a.Flush()
	recs := s.records()[full:]
	if len(recs) != 5 { // 4 tracked sources + the overflow bucket
		t.Fatalf("%d summaries", len(recs))
	}
	var other *audit.Record
	for i := range recs {
		if !recs[i].SourceIP.IsValid() {
			other = &recs[i]
		}
	}
	if other == nil || !strings.Contains(other.Reason, "sources=96") || !strings.Contains(other.Reason, "refusals=960 ") {
		t.Fatalf("overflow summary %+v", other)
	}
}

func TestAggregatorCountOnly(t *testing.T) {
	s := &sink{}
	a := newAgg(t, s, AggregatorOptions{})
	for i := 0; i < 4; i++ {
		a.Count(audit.Record{Reason: "rate-limited", SourceIP: netip.MustParseAddr("2001:db8::1")})
	}
	if len(s.records()) != 0 {
		t.Fatal("Count wrote a record")
	}
	a.Close() // the last summary is written at Close
	recs := s.records()
	if len(recs) != 1 || !strings.Contains(recs[0].Reason, `reasons="rate-limited:4"`) {
		t.Fatalf("%+v", recs)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(LimiterOptions{Rate: 1, Burst: 3, MaxSources: 2, Now: func() time.Time { return now }})
	a, b, c, d := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("request %d refused within the burst", i)
		}
	}
	ok, wait := l.Allow(a)
	if ok || wait != time.Second {
		t.Fatalf("beyond the burst: %v %s", ok, wait)
	}
	if ok, _ := l.Allow(b); !ok {
		t.Fatal("another source was limited")
	}
	// c and d share the overflow bucket.
	for i := 0; i < 3; i++ {
		l.Allow(c)
	}
	if ok, _ := l.Allow(d); ok {
		t.Fatal("sources beyond MaxSources do not share a bucket")
	}
	now = now.Add(1500 * time.Millisecond)
	if ok, _ := l.Allow(a); !ok {
		t.Fatal("no refill")
	}
	if l.Limited() != 2 {
		t.Fatalf("limited %d", l.Limited())
	}
}
