package config

import "time"

// AuditUnauthenticated bounds the audit records that refusals of peers
// nobody authenticated (unknown key, wrong mechanism, enrollment without
// valid credentials) may cause: per source and interval the first
// PerSource are written in full, the rest are counted and summarized in
// one record (docs/audit.md, docs/security.md).
//
//	audit:
//	  reserve_bytes: 268435456
//	  unauthenticated:
//	    per_source: 5
//	    interval: 10s
//	    max_sources: 256
//	    max_records: 200
type AuditUnauthenticated struct {
	// PerSource is how many refusals of one source address are written in
	// full per interval (default 5).
	PerSource int `yaml:"per_source"`
	// Interval is the summary period (default 10s).
	Interval time.Duration `yaml:"interval"`
	// MaxSources bounds the sources tracked per interval (default 256);
	// further sources share one summary without source.ip.
	MaxSources int `yaml:"max_sources"`
	// MaxRecords bounds the refusals written in full per interval over all
	// sources (default 200).
	MaxRecords int `yaml:"max_records"`
}

// EnrollRateLimit limits enrollment requests per source address before
// they reach the token verifier or the audit log; beyond it the broker
// answers 429 with Retry-After.
//
//	enroll:
//	  rate_limit: {rate: 0.5, burst: 10}
type EnrollRateLimit struct {
	// Rate is the sustained requests per second of one source (default
	// 0.5).
	Rate float64 `yaml:"rate"`
	// Burst is how many requests a source may send at once (default 10).
	Burst int `yaml:"burst"`
	// MaxSources bounds the sources tracked (default 4096); further
	// sources share one bucket.
	MaxSources int `yaml:"max_sources"`
}

// Defaults of the flood settings.
const (
	defaultAuditReserve = 256 << 20
)

func auditUnauthenticatedDefaults() AuditUnauthenticated {
	return AuditUnauthenticated{PerSource: 5, Interval: 10 * time.Second, MaxSources: 256, MaxRecords: 200}
}

func enrollRateLimitDefaults() EnrollRateLimit {
	return EnrollRateLimit{Rate: 0.5, Burst: 10, MaxSources: 4096}
}

// validateFlood checks audit.reserve_bytes and audit.unauthenticated.
func (a *Audit) validateFlood(bad func(path, format string, args ...any)) {
	if a.ReserveBytes < 0 {
		bad("audit.reserve_bytes", "audit.reserve_bytes must be 0 (off) or a number of bytes, not %d", a.ReserveBytes)
	}
	u := a.Unauthenticated
	if u.PerSource < 1 {
		bad("audit.unauthenticated.per_source", "audit.unauthenticated.per_source must be at least 1, not %d", u.PerSource)
	}
	if u.Interval < time.Second {
		bad("audit.unauthenticated.interval", "audit.unauthenticated.interval must be at least 1s, not %s", u.Interval)
	}
	if u.MaxSources < 1 {
		bad("audit.unauthenticated.max_sources", "audit.unauthenticated.max_sources must be at least 1, not %d", u.MaxSources)
	}
	if u.MaxRecords < 1 {
		bad("audit.unauthenticated.max_records", "audit.unauthenticated.max_records must be at least 1, not %d", u.MaxRecords)
	}
}

// validate checks enroll.rate_limit.
func (r *EnrollRateLimit) validate(bad func(path, format string, args ...any)) {
	if r.Rate <= 0 {
		bad("enroll.rate_limit.rate", "enroll.rate_limit.rate must be positive (requests per second), not %g", r.Rate)
	}
	if r.Burst < 1 {
		bad("enroll.rate_limit.burst", "enroll.rate_limit.burst must be at least 1, not %d", r.Burst)
	}
	if r.MaxSources < 1 {
		bad("enroll.rate_limit.max_sources", "enroll.rate_limit.max_sources must be at least 1, not %d", r.MaxSources)
	}
}
