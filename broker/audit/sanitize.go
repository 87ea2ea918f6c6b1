package audit

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on record values. A longer value is cut at a character boundary
// and ends with "…"; a longer list keeps its first entries; either sets
// Truncated. Invalid UTF-8 is replaced by U+FFFD. Other characters,
// control characters included, are kept (JSON escapes them) so that the
// record shows exactly what the peer sent.
const (
	// MaxValueBytes bounds a single value (principal, key, service, …).
	MaxValueBytes = 256
	// MaxReasonBytes bounds "event.reason".
	MaxReasonBytes = 1024
	// MaxGroupBytes bounds one entry of "zapgate.groups" (a DN).
	MaxGroupBytes = 512
	// MaxRoles bounds the length of "user.roles".
	MaxRoles = 64
	// MaxGroups bounds the length of "zapgate.groups".
	MaxGroups = 128
	// MaxLineBytes bounds one encoded record; readers refuse longer lines.
	// The limits above keep every record well below it.
	MaxLineBytes = 1 << 20
)

// actionRE is the shape of "event.action": lowercase dotted words.
var actionRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// maxActionBytes bounds "event.action".
const maxActionBytes = 64

// prepare validates a caller's record and returns a sanitised copy with
// Time and ID filled in; the chain fields are cleared.
func prepare(rec Record, now time.Time) (Record, error) {
	if err := checkAction(rec.Action); err != nil {
		return Record{}, err
	}
	if strings.HasPrefix(rec.Action, "audit.") {
		return Record{}, fmt.Errorf("audit: action %q is reserved for the log itself", rec.Action)
	}
	if !rec.Outcome.valid() {
		return Record{}, fmt.Errorf("audit: outcome %q: want success, failure or unknown", rec.Outcome)
	}
	if rec.Severity > SeverityDebug {
		return Record{}, fmt.Errorf("audit: severity %d: want 1 (alert) to 7 (debug), or 0", rec.Severity)
	}
	if rec.ID == "" {
		id, err := NewEventID(now)
		if err != nil {
			return Record{}, err
		}
		rec.ID = id
	} else if !validEventID(rec.ID) {
		return Record{}, fmt.Errorf("audit: event id %q is not a lowercase UUID", rec.ID)
	}
	if rec.Time.IsZero() {
		rec.Time = now
	}
	rec.Time = canonicalTime(rec.Time)
	rec.SourceIP = rec.SourceIP.Unmap().WithZone("")
	sanitize(&rec)
	rec.Checkpoint, rec.Seq, rec.PrevHash, rec.Hash = nil, 0, "", ""
	return rec, nil
}

// checkAction validates an "event.action".
func checkAction(a string) error {
	if len(a) > maxActionBytes || !actionRE.MatchString(a) {
		return fmt.Errorf("audit: action %q: want lowercase dotted words of at most %d bytes", a, maxActionBytes)
	}
	return nil
}

// canonicalTime is t in UTC, truncated to microseconds.
func canonicalTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// sanitize applies the limits to every string and list of rec in place.
func sanitize(rec *Record) {
	t := false
	rec.Reason = clip(rec.Reason, MaxReasonBytes, &t)
	for _, p := range []*string{&rec.User, &rec.Key, &rec.Service, &rec.Command, &rec.Topic, &rec.RuleID, &rec.Ruleset, &rec.PolicyHash} {
		*p = clip(*p, MaxValueBytes, &t)
	}
	rec.Roles = clipList(rec.Roles, MaxRoles, MaxValueBytes, &t)
	rec.Groups = clipList(rec.Groups, MaxGroups, MaxGroupBytes, &t)
	rec.Truncated = t
}

// ellipsis marks a value cut at its limit.
const ellipsis = "…"

// clip returns s as valid UTF-8 of at most limit bytes, setting *cut when
// it had to shorten it.
func clip(s string, limit int, cut *bool) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= limit {
		return s
	}
	*cut = true
	n := limit - len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}

// clipList copies list, keeping at most n entries of at most limit bytes.
func clipList(list []string, n, limit int, cut *bool) []string {
	if len(list) == 0 {
		return nil
	}
	if len(list) > n {
		*cut = true
		list = list[:n]
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = clip(s, limit, cut)
	}
	return out
}
