package enroll

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/enroll/wire"
)

// Budget takes the audit records of refusals of requests that carried no
// valid credentials; flood.Aggregator implements it. Neither method waits
// for the disk.
type Budget interface {
	// Refuse writes rec in full while the source's budget lasts, else
	// counts it for a summary record.
	Refuse(rec audit.Record) bool
	// Count only counts rec for a summary record.
	Count(rec audit.Record)
}

// Limiter limits requests per source address; flood.Limiter implements
// it.
type Limiter interface {
	// Allow takes one request from src's allowance; when none is left it
	// returns false and how long until the next one.
	Allow(src netip.Addr) (bool, time.Duration)
}

// limit answers 429 with Retry-After to a source beyond its rate, before
// the request reaches the token verifier or the audit log; the refusal is
// only counted in the budget's summary.
func (s *Service) limit(next http.Handler) http.Handler {
	if s.opts.Limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := sourceOf(r)
		ok, wait := s.opts.Limiter.Allow(src)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		if s.opts.Unauthenticated != nil {
			s.opts.Unauthenticated.Count(audit.Record{Action: ActionEnroll, Outcome: audit.OutcomeFailure,
				Reason: wire.CodeRateLimited, SourceIP: src})
		}
		secs := max(1, int((wait+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, wire.ErrorResponse{Error: wire.CodeRateLimited,
			Message: "too many enrollment requests from this address; retry after " + strconv.Itoa(secs) + "s"})
	})
}

// recordUnauthenticated hands the record of a refusal of a request without
// valid credentials to the budget instead of waiting for it to be durable.
// It reports false when there is no budget (the caller writes the record).
func (s *Service) recordUnauthenticated(at *attempt, code, detail string) bool {
	if at.who != nil || s.opts.Unauthenticated == nil {
		return false
	}
	s.opts.Unauthenticated.Refuse(auditRecord(at, audit.OutcomeFailure, code, detail))
	return true
}
