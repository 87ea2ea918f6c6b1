package server

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/zapgate/zapgate/broker"
	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/mdp"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/cache"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// metric is one exported value read from a component's Stats at scrape.
type metric struct {
	name, help string
	counter    bool
	value      func() float64
}

// register adds every metric as a CounterFunc or GaugeFunc.
func register(reg *prometheus.Registry, ms []metric) {
	for _, m := range ms {
		opts := prometheus.Opts{Namespace: "zapgate", Name: m.name, Help: m.help}
		if m.counter {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts(opts), m.value))
		} else {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts), m.value))
		}
	}
}

// newRegistry exposes the components' counters for Prometheus.
func newRegistry(z *zap.Server, keys *certs.Registry, pol *policy.Store, log *audit.Log) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	zs := func(f func(zap.Stats) uint64) func() float64 { return func() float64 { return float64(f(z.Stats())) } }
	as := func(f func(audit.Stats) uint64) func() float64 {
		return func() float64 { return float64(f(log.Stats())) }
	}
	if keys != nil {
		register(reg, []metric{
			{"keys_bindings", "Keys currently trusted by the registry.", false, func() float64 { return float64(keys.Stats().Bindings) }},
			{"keys_skipped_files", "Registry files skipped as malformed or invalid.", false, func() float64 { return float64(keys.Stats().Skipped) }},
			{"keys_conflicts", "Keys bound by more than one file (none trusted).", false, func() float64 { return float64(keys.Stats().Conflicts) }},
			{"keys_reload_errors_total", "Registry reloads that failed.", true, func() float64 { return float64(keys.Stats().ReloadErrors) }},
			{"keys_refused_files", "Registry files refused because another user may change them (strict modes).", false, func() float64 { return float64(keys.Stats().Refused) }},
			{"keys_registry_trusted", "1 while the registry directory exists and only its owner or root may change it; 0 means nothing is bound.", false, func() float64 {
				st := keys.Stats()
				return b2f(!st.Missing && st.DirError == "")
			}},
		})
	}
	register(reg, []metric{
		{"zap_requests_total", "ZAP requests received (self-test included).", true, zs(func(s zap.Stats) uint64 { return s.Requests })},
		{"zap_accepted_total", "ZAP requests answered 200.", true, zs(func(s zap.Stats) uint64 { return s.OK })},
		{"zap_tempfail_total", "ZAP requests answered 300 (retry).", true, zs(func(s zap.Stats) uint64 { return s.TempFail })},
		{"zap_denied_total", "ZAP requests answered 400.", true, zs(func(s zap.Stats) uint64 { return s.Denied })},
		{"zap_internal_total", "ZAP requests answered 500.", true, zs(func(s zap.Stats) uint64 { return s.Internal })},
		{"zap_overloads_total", "ZAP requests refused because the queue was full.", true, zs(func(s zap.Stats) uint64 { return s.Overloads })},
		{"zap_timeouts_total", "ZAP requests that exceeded the deadline.", true, zs(func(s zap.Stats) uint64 { return s.Timeouts })},
		{"audit_records_total", "Audit records made durable for callers.", true, as(func(s audit.Stats) uint64 { return s.Appended })},
		{"audit_fsyncs_total", "Audit group commits synced.", true, as(func(s audit.Stats) uint64 { return s.Fsyncs })},
		{"audit_failures_total", "Audit write failures.", true, as(func(s audit.Stats) uint64 { return s.Failures })},
		{"audit_refused_total", "Appends refused because the log could not be written.", true, as(func(s audit.Stats) uint64 { return s.Refused })},
		{"audit_healthy", "1 while the audit log is writable.", false, func() float64 { return b2f(log.Health().OK) }},
		{"policy_reloads_total", "Policy reloads that swapped in a new policy.", true, func() float64 { return float64(pol.Status().Reloads) }},
		{"policy_reload_failures_total", "Policy load attempts that failed (last good kept).", true, func() float64 { return float64(pol.Status().Failures) }},
		{"policy_stale", "1 when the policy file on disk is not the policy that serves.", false, func() float64 { return b2f(pol.Status().LastError != "") }},
	})
	return reg
}

// directoryMetrics exposes the directory cache's counters when dir is
// cached (remote directories are): hits, misses, stale serves, back-off
// answers, failed queries and query latency (sum and maximum, with the
// query count giving the mean).
func directoryMetrics(reg *prometheus.Registry, dir idp.Directory) {
	c, ok := dir.(*cache.Cache)
	if !ok {
		return
	}
	cs := func(f func(cache.Stats) float64) func() float64 { return func() float64 { return f(c.Stats()) } }
	register(reg, []metric{
		{"directory_cache_hits_total", "Directory lookups answered from a fresh cache entry.", true, cs(func(s cache.Stats) float64 { return float64(s.Hits) })},
		{"directory_cache_misses_total", "Directory lookups that needed a directory query.", true, cs(func(s cache.Stats) float64 { return float64(s.Misses) })},
		{"directory_cache_stale_serves_total", "Answers served stale (within stale_grace) because the directory failed.", true, cs(func(s cache.Stats) float64 { return float64(s.StaleServes) })},
		{"directory_cache_backoffs_total", "Misses answered without waiting during the outage back-off.", true, cs(func(s cache.Stats) float64 { return float64(s.Backoffs) })},
		{"directory_cache_refreshes_total", "Background refreshes started ahead of expiry.", true, cs(func(s cache.Stats) float64 { return float64(s.Refreshes) })},
		{"directory_cache_entries", "Cached principals (positive and negative answers).", false, cs(func(s cache.Stats) float64 { return float64(s.Entries) })},
		{"directory_queries_total", "Directory queries issued.", true, cs(func(s cache.Stats) float64 { return float64(s.Queries) })},
		{"directory_query_errors_total", "Directory queries that failed (not found is an answer, not an error).", true, cs(func(s cache.Stats) float64 { return float64(s.Errors) })},
		{"directory_query_seconds_total", "Total time spent in directory queries.", true, cs(func(s cache.Stats) float64 { return s.QueryTime.Seconds() })},
		{"directory_query_seconds_max", "Longest directory query since start.", false, cs(func(s cache.Stats) float64 { return s.QueryMax.Seconds() })},
	})
}

// brokerMetrics exposes the broker's counters (broker.Stats) as
// zapgate_broker_*: refusals by MDP code as one counter with a code label,
// the connections it watches as a gauge, everything else as counters.
func brokerMetrics(reg *prometheus.Registry, b *broker.Broker) {
	bs := func(f func(broker.Stats) uint64) func() float64 {
		return func() float64 { return float64(f(b.Stats())) }
	}
	register(reg, []metric{
		{"broker_received_total", "Messages read from the broker socket.", true, bs(func(s broker.Stats) uint64 { return s.Received })},
		{"broker_requests_total", "Client requests authorized and queued.", true, bs(func(s broker.Stats) uint64 { return s.Requests })},
		{"broker_replies_total", "Worker replies relayed to clients.", true, bs(func(s broker.Stats) uint64 { return s.Replies })},
		{"broker_published_total", "Events authorized for fan-out.", true, bs(func(s broker.Stats) uint64 { return s.Published })},
		{"broker_delivered_total", "Events sent to subscribers.", true, bs(func(s broker.Stats) uint64 { return s.Delivered })},
		{"broker_events_dropped_total", "Event deliveries not made (subscriber gone or slow, authorization failed).", true, bs(func(s broker.Stats) uint64 { return s.EventsDropped })},
		{"broker_slow_subscribers_total", "Subscribers dropped from fan-out as slow.", true, bs(func(s broker.Stats) uint64 { return s.SlowSubscribers })},
		{"broker_workers_refused_total", "Worker READYs refused.", true, bs(func(s broker.Stats) uint64 { return s.WorkersRefused })},
		{"broker_workers_revoked_total", "Workers disconnected by a failed re-check.", true, bs(func(s broker.Stats) uint64 { return s.WorkersRevoked })},
		{"broker_workers_expired_total", "Workers that stopped sending heartbeats.", true, bs(func(s broker.Stats) uint64 { return s.WorkersExpired })},
		{"broker_spoofed_replies_total", "Replies from the wrong worker or with a forged broker frame.", true, bs(func(s broker.Stats) uint64 { return s.SpoofedReplies })},
		{"broker_unauthenticated_total", "Messages dropped for an empty User-Id (never relayed).", true, bs(func(s broker.Stats) uint64 { return s.Unauthenticated })},
		{"broker_malformed_total", "Messages that were not valid MDP.", true, bs(func(s broker.Stats) uint64 { return s.Malformed })},
		{"broker_overloaded_total", "Messages refused by the in-flight limits (503 queue-full).", true, bs(func(s broker.Stats) uint64 { return s.Overloaded })},
		{"broker_undeliverable_total", "Replies that could not be sent (client gone or not reading).", true, bs(func(s broker.Stats) uint64 { return s.Undeliverable })},
		{"broker_audit_skipped_total", "Drop events only logged because of the audit backlog limit.", true, bs(func(s broker.Stats) uint64 { return s.AuditSkipped })},
		{"broker_too_large_total", "Messages over max_frames or max_message_bytes.", true, bs(func(s broker.Stats) uint64 { return s.TooLarge })},
		{"broker_shut_out_total", "Keys shut out after repeated offences.", true, bs(func(s broker.Stats) uint64 { return s.ShutOut })},
		{"broker_shut_out_refused_total", "Messages refused because their key was shut out (403 shut-out).", true, bs(func(s broker.Stats) uint64 { return s.ShutOutRefused })},
		{"broker_foreign_routing_ids_total", "Messages dropped because their routing id was not minted for their connection.", true, bs(func(s broker.Stats) uint64 { return s.ForeignRoutingIDs })},
		{"broker_dispatch_refused_total", "Requests taken back from a worker whose authorization failed at dispatch.", true, bs(func(s broker.Stats) uint64 { return s.DispatchRefused })},
		{"broker_connections_cut_total", "Connections cut for their libzmq backlog or because their key was shut out.", true, bs(func(s broker.Stats) uint64 { return s.ConnectionsCut })},
		{"broker_connections", "Connections accepted and not yet closed that the broker watches (Linux TCP).", false, bs(func(s broker.Stats) uint64 { return s.Connections })},
		{"broker_transport_lines_suppressed_total", "Transport log lines past their source's log budget, counted in a summary line instead.", true, bs(func(s broker.Stats) uint64 { return s.TransportLinesSuppressed })},
		{"broker_transport_summaries_total", "Transport summary lines (connections summarized) logged.", true, bs(func(s broker.Stats) uint64 { return s.TransportSummaries })},
	})
	for _, code := range []int{mdp.CodeMalformed, mdp.CodeForbidden, mdp.CodeNoWorker, mdp.CodeInternal, mdp.CodeBadReply, mdp.CodeUnavailable} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "zapgate", Name: "broker_refused_total",
			Help:        "Refusals the broker sent, by MDP code.",
			ConstLabels: prometheus.Labels{"code": strconv.Itoa(code)}},
			func() float64 { return float64(b.Stats().Refused[code]) }))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// keysCheck is the /readyz check "keys": it fails while the registry
// directory is gone or refused (nothing is bound) and while any file is
// skipped (refused by strict modes or malformed) or binds a key another
// file binds too.
func keysCheck(st certs.Stats) error {
	switch {
	case st.Missing:
		return errors.New("registry directory is gone: no key is bound")
	case st.DirError != "":
		return errors.New(st.DirError)
	case st.Skipped > 0 || st.Conflicts > 0:
		return fmt.Errorf("%d registry files skipped (%d refused by strict modes), %d conflicting keys", st.Skipped, st.Refused, st.Conflicts)
	}
	return nil
}
