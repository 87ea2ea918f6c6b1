// Package cache is a decorator that caches the answers of any idp.Directory.
//
// It keeps positive answers (including disabled accounts: Enabled=false is
// an answer) for a TTL and "no such principal" answers for a shorter
// NegativeTTL. Concurrent lookups of one principal cause a single directory
// query, which runs under its own deadline so that one caller giving up does
// not cancel it for the others. Entries used near the end of their TTL are
// refreshed in the background while callers get the cached answer.
//
// When the directory fails (any error other than idp.ErrNotFound), a
// principal answered within TTL+StaleGrace keeps its last known identity,
// returned with Stale=true so that audit records mark it (security invariant
// 4). An unknown principal, or one past the grace, gets an error wrapping
// idp.ErrUnavailable, which the ZAP authenticator answers with 300 so the
// node retries.
//
// The wrapped directory's optional capabilities pass through: FindByKey
// answers (key → principal) are cached with the same rules, and Close closes
// the wrapped directory.
//
// Options as they might appear in a configuration file:
//
//	cache:
//	  ttl: 5m            # positive answers, disabled accounts included
//	  negative_ttl: 30s  # "no such principal" answers
//	  refresh_ahead: 0.2 # refresh entries used in the last 20% of the TTL
//	  stale_grace: 15m   # serve last known identity this long past the TTL during an outage
//	  query_timeout: 5s  # deadline of each directory query
//	  max_entries: 10000 # per table; the least recently stored entry is evicted
package cache
