package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/audit/flood"
	"github.com/zapgate/zapgate/enroll"
	"log/slog"
)

// budget is the audit budget of unauthenticated peers: the free-space
// reserve, one aggregator per kind of refusal, and the enrollment rate
// limit (docs/security.md, "Audit budget of unauthenticated peers").
type budget struct {
	reserve *flood.Reserve
	zap     *flood.Aggregator // authn.refusals
	enroll  *flood.Aggregator // keys.enroll.refusals
	limiter *flood.Limiter
	lines   *flood.LineLimiter // authn's debug lines about unidentified peers' refusals
}

// Summary actions of the aggregated refusals.
const (
	actionAuthnRefusals  = "authn.refusals"
	actionEnrollRefusals = "keys.enroll.refusals"
)

// openBudget starts the aggregators over the open audit log.
func (s *Server) openBudget() error {
	a := s.cfg.Audit
	u := a.Unauthenticated
	b := &budget{reserve: flood.NewReserve(a.Dir, uint64(max(a.ReserveBytes, 0)), nil)}
	submit := func(r audit.Record) error {
		_, err := s.audit.AppendAsync(r)
		return err
	}
	opts := func(action string) flood.AggregatorOptions {
		return flood.AggregatorOptions{Action: action, Submit: submit, PerSource: u.PerSource, Interval: u.Interval,
			MaxSources: u.MaxSources, MaxRecords: u.MaxRecords, Reserve: b.reserve, Logger: s.log}
	}
	var err error
	if b.zap, err = flood.NewAggregator(opts(actionAuthnRefusals)); err != nil {
		return err
	}
	s.budget = b
	if b.enroll, err = flood.NewAggregator(opts(actionEnrollRefusals)); err != nil {
		return err
	}
	if b.lines, err = flood.NewLineLimiter(flood.LineLimiterOptions{Logger: s.log.With("component", "authn"),
		Level: slog.LevelDebug, Message: "refusals summarized", PerSource: u.PerSource, Interval: u.Interval,
		MaxSources: u.MaxSources, MaxLines: u.MaxRecords}); err != nil {
		return err
	}
	rl := s.cfg.Enroll.RateLimit
	b.limiter = flood.NewLimiter(flood.LimiterOptions{Rate: rl.Rate, Burst: rl.Burst, MaxSources: rl.MaxSources})
	return nil
}

// enrollOptions adds the budget to the enrollment service's options.
func (b *budget) enrollOptions(o enroll.Options) enroll.Options {
	o.Limiter, o.Unauthenticated = b.limiter, b.enroll
	return o
}

// close writes the last summaries; before the audit log closes.
func (b *budget) close() {
	if b == nil {
		return
	}
	if b.zap != nil {
		b.zap.Close()
	}
	if b.enroll != nil {
		b.enroll.Close()
	}
	if b.lines != nil {
		b.lines.Close()
	}
}

// metrics exposes the budget for Prometheus.
func (b *budget) metrics(reg *prometheus.Registry) {
	agg := func(a *flood.Aggregator, f func(flood.AggregatorStats) uint64) func() float64 {
		return func() float64 { return float64(f(a.Stats())) }
	}
	full := func(s flood.AggregatorStats) uint64 { return s.Full }
	counted := func(s flood.AggregatorStats) uint64 { return s.Counted }
	summaries := func(s flood.AggregatorStats) uint64 { return s.Summaries }
	register(reg, []metric{
		{"audit_free_bytes", "Free bytes on the audit log's filesystem.", false, func() float64 { return float64(b.reserve.Status().Free) }},
		{"audit_reserve_bytes", "Free bytes kept for grants (audit.reserve_bytes).", false, func() float64 { return float64(b.reserve.Status().Reserve) }},
		{"audit_reserve_low", "1 while free space is below the reserve: refusals of unauthenticated peers are only counted.", false, func() float64 { return b2f(b.reserve.Status().Low) }},
		{"audit_reserve_low_events_total", "Times free space fell below the reserve.", true, func() float64 { return float64(b.reserve.Status().LowEvents) }},
		{"authn_unauthenticated_written_total", "Refusals of unidentified peers written in full.", true, agg(b.zap, full)},
		{"authn_unauthenticated_counted_total", "Refusals of unidentified peers only counted in a summary.", true, agg(b.zap, counted)},
		{"authn_unauthenticated_summaries_total", "Summary records (authn.refusals) written.", true, agg(b.zap, summaries)},
		{"authn_unauthenticated_lines_suppressed_total", "Debug lines about refusals of unidentified peers past their source's budget, counted in a summary line instead.", true, func() float64 { return float64(b.lines.Stats().Suppressed) }},
		{"enroll_unauthenticated_written_total", "Enrollment refusals without valid credentials written in full.", true, agg(b.enroll, full)},
		{"enroll_unauthenticated_counted_total", "Enrollment refusals without valid credentials only counted in a summary.", true, agg(b.enroll, counted)},
		{"enroll_unauthenticated_summaries_total", "Summary records (keys.enroll.refusals) written.", true, agg(b.enroll, summaries)},
		{"enroll_rate_limited_total", "Enrollment requests answered 429.", true, func() float64 { return float64(b.limiter.Limited()) }},
	})
}
