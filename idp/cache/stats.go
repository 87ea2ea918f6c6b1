package cache

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a Cache's counters, for metrics. Counters cover
// both principal lookups and key lookups.
type Stats struct {
	// Hits counts answers served from a fresh entry.
	Hits uint64
	// Misses counts lookups that had to wait for a directory query.
	Misses uint64
	// StaleServes counts answers served stale during a directory outage.
	StaleServes uint64
	// Errors counts directory queries that failed (idp.ErrNotFound is an
	// answer, not an error).
	Errors uint64
	// Backoffs counts misses answered without waiting for the directory
	// because a query failed within Options.OutageBackoff.
	Backoffs uint64
	// Refreshes counts background refreshes started ahead of expiry.
	Refreshes uint64
	// Queries counts directory queries issued (misses share one query per
	// principal; refreshes are queries too).
	Queries uint64
	// Entries is the number of cached principals (positive and negative).
	Entries int
	// KeyEntries is the number of cached key → principal answers.
	KeyEntries int
	// QueryTime is the total duration of all directory queries; with
	// Queries it gives the mean latency.
	QueryTime time.Duration
	// QueryMax is the longest directory query so far.
	QueryMax time.Duration
}

type counters struct {
	hits, misses, staleServes, errors, refreshes, queries, backoffs atomic.Uint64
	queryNanos, queryMaxNanos                                       atomic.Int64
}

func (s *counters) observe(d time.Duration) {
	s.queries.Add(1)
	s.queryNanos.Add(int64(d))
	for {
		old := s.queryMaxNanos.Load()
		if int64(d) <= old || s.queryMaxNanos.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache) Stats() Stats {
	s := Stats{
		Hits:        c.stats.hits.Load(),
		Misses:      c.stats.misses.Load(),
		StaleServes: c.stats.staleServes.Load(),
		Errors:      c.stats.errors.Load(),
		Refreshes:   c.stats.refreshes.Load(),
		Backoffs:    c.stats.backoffs.Load(),
		Queries:     c.stats.queries.Load(),
		QueryTime:   time.Duration(c.stats.queryNanos.Load()),
		QueryMax:    time.Duration(c.stats.queryMaxNanos.Load()),
		Entries:     c.principals.len(),
	}
	if c.keyTable != nil {
		s.KeyEntries = c.keyTable.len()
	}
	return s
}
