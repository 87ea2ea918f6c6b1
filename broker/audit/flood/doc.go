// Package flood bounds what peers nobody authenticated can cost the audit
// log: an Aggregator writes the first few refusals of each source in full
// and then one summary record per interval, a Reserve keeps free space on
// the audit filesystem for grants, and a Limiter rate-limits requests per
// source before they reach anything that writes or verifies. A
// LineLimiter applies the Aggregator's budget to log lines: the first few
// lines about each unauthenticated source per interval in full, then one
// summary line per source.
//
// Only refusals of unauthenticated peers (unknown key, wrong mechanism,
// enrollment without valid credentials) go through this package. Grants and
// refusals of identified principals are written in full by their callers,
// never aggregated (docs/security.md, "Audit budget of unauthenticated
// peers").
package flood
