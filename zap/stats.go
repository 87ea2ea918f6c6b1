package zap

import "sync/atomic"

// Stats is a snapshot of a Server's counters since Start. The startup
// self-test counts as one request answered 400.
type Stats struct {
	// Requests counts every ZAP request received, malformed ones included.
	Requests uint64
	// OK, TempFail, Denied and Internal count replies sent per status.
	OK, TempFail, Denied, Internal uint64
	// Overloads counts requests answered 300 because the queue was full.
	Overloads uint64
	// Timeouts counts requests answered 300 because the deadline passed.
	Timeouts uint64
	// Malformed counts requests that failed to parse (answered 500 when
	// they could be addressed, dropped otherwise).
	Malformed uint64
	// Errors counts Authenticator errors and panics.
	Errors uint64
	// InvalidResults counts Results the server refused (answered 500).
	InvalidResults uint64
	// Late counts decisions that arrived after their request had already
	// been answered (by a timeout or shutdown) and were discarded.
	Late uint64
}

// Count returns the number of replies sent with status st.
func (s Stats) Count(st Status) uint64 {
	switch st {
	case StatusOK:
		return s.OK
	case StatusTempFail:
		return s.TempFail
	case StatusDenied:
		return s.Denied
	case StatusInternal:
		return s.Internal
	}
	return 0
}

type counters struct {
	requests, ok, tempFail, denied, internal atomic.Uint64
	overloads, timeouts, malformed           atomic.Uint64
	errors, invalidResults, late             atomic.Uint64
}

func (c *counters) replied(st Status) {
	switch st {
	case StatusOK:
		c.ok.Add(1)
	case StatusTempFail:
		c.tempFail.Add(1)
	case StatusDenied:
		c.denied.Add(1)
	case StatusInternal:
		c.internal.Add(1)
	}
}

func (c *counters) snapshot() Stats {
	return Stats{
		Requests:       c.requests.Load(),
		OK:             c.ok.Load(),
		TempFail:       c.tempFail.Load(),
		Denied:         c.denied.Load(),
		Internal:       c.internal.Load(),
		Overloads:      c.overloads.Load(),
		Timeouts:       c.timeouts.Load(),
		Malformed:      c.malformed.Load(),
		Errors:         c.errors.Load(),
		InvalidResults: c.invalidResults.Load(),
		Late:           c.late.Load(),
	}
}
