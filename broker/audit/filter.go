package audit

import (
	"fmt"
	"strings"
	"time"
)

// Filter selects records for export and tail. The zero Filter matches
// every record.
type Filter struct {
	// Since keeps records at or after this time (zero: no bound).
	Since time.Time
	// Until keeps records before this time (zero: no bound).
	Until time.Time
	// Actions keeps records whose "event.action" matches one of these: an
	// exact action, or a prefix ending in ".*" ("authz.*"). Empty: all.
	Actions []string
	// Outcome keeps records with this "event.outcome" ("": all).
	Outcome Outcome
	// Principal keeps records whose "user.name" is exactly this ("": all).
	Principal string
}

// Match reports whether r passes the filter.
func (f *Filter) Match(r *Record) bool {
	if !f.Since.IsZero() && r.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !r.Time.Before(f.Until) {
		return false
	}
	if f.Outcome != "" && r.Outcome != f.Outcome {
		return false
	}
	if f.Principal != "" && r.User != f.Principal {
		return false
	}
	if len(f.Actions) == 0 {
		return true
	}
	for _, a := range f.Actions {
		if prefix, ok := strings.CutSuffix(a, "*"); ok && strings.HasPrefix(r.Action, prefix) || a == r.Action {
			return true
		}
	}
	return false
}

// ParseOutcome parses an outcome for a filter; "allow"/"granted" and
// "deny"/"denied" are accepted for success and failure.
func ParseOutcome(s string) (Outcome, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "success", "allow", "allowed", "grant", "granted":
		return OutcomeSuccess, nil
	case "failure", "deny", "denied", "refused":
		return OutcomeFailure, nil
	case "unknown":
		return OutcomeUnknown, nil
	}
	return "", fmt.Errorf("audit: outcome %q: want success, failure or unknown", s)
}

// ParseTime parses a --since/--until value: an RFC 3339 time, a date
// (YYYY-MM-DD, midnight UTC), or a duration meaning that long before now
// ("90m", "24h", "7d").
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && n >= 0 && fmt.Sprint(n) == days {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("audit: time %q: want RFC 3339 (2026-11-25T14:00:00Z), a date (2026-11-25) or a duration ago (24h, 7d)", s)
}
