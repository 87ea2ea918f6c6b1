package syslog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zapgate/zapgate/broker/audit"
)

// SDID is the structured-data element ID of zapgate's parameters. 32473 is
// the private enterprise number RFC 5612 reserves for documentation; the
// element name is fixed so receivers can rely on it.
const SDID = "zapgate@32473"

// Header holds the RFC 5424 header fields that do not come from a record.
type Header struct {
	// Facility is the syslog facility, 0–23 (default 10, authpriv).
	Facility int
	// Hostname is HOSTNAME (printable ASCII, at most 255; "-" if empty).
	Hostname string
	// AppName is APP-NAME (at most 48; default "zapgate").
	AppName string
	// ProcID is PROCID (at most 128; "-" if empty).
	ProcID string
}

// facilities maps syslog facility names to numbers.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "audit": 13,
	"console": 14, "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20,
	"local5": 21, "local6": 22, "local7": 23,
}

// ParseFacility returns the number of a facility name ("authpriv",
// "local0", …).
func ParseFacility(name string) (int, error) {
	if n, ok := facilities[strings.ToLower(name)]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("syslog: unknown facility %q", name)
}

// Severity returns the syslog severity of a record: its "event.severity",
// else warning (4) for a failure, notice (5) for unknown, info (6) for a
// success.
func Severity(r *audit.Record) int {
	if r.Severity != 0 {
		return int(r.Severity)
	}
	switch r.Outcome {
	case audit.OutcomeFailure:
		return 4
	case audit.OutcomeUnknown:
		return 5
	}
	return 6
}

// AppendMessage appends one RFC 5424 message for e:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [zapgate@32473 …] MSG
//
// MSGID is "event.action"; the structured data repeats the record's fields
// under their record names (lists as repeated parameters; the groups, the
// previous hash and checkpoint signatures only in MSG); MSG is the stored
// line, unchanged, so the receiver can verify its hash. MSG has no BOM
// (see docs/audit.md).
func AppendMessage(b []byte, h *Header, e *audit.Entry) []byte {
	r := &e.Record
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(h.Facility*8+Severity(r)), 10)
	b = append(b, ">1 "...)
	b = r.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, ' ')
	b = appendHeaderField(b, h.Hostname, 255)
	b = append(b, ' ')
	b = appendHeaderField(b, h.AppName, 48)
	b = append(b, ' ')
	b = appendHeaderField(b, h.ProcID, 128)
	b = append(b, ' ')
	b = appendHeaderField(b, r.Action, 32)
	b = append(b, ' ')
	b = appendSD(b, r)
	b = append(b, ' ')
	return append(b, e.Line...)
}

// appendHeaderField appends a header field: printable US-ASCII only (others
// become '?'), at most max characters, "-" when empty.
func appendHeaderField(b []byte, s string, max int) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s) && i < max; i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

// appendSD appends the structured-data element.
func appendSD(b []byte, r *audit.Record) []byte {
	b = append(b, '[')
	b = append(b, SDID...)
	p := func(name, value string) {
		if value != "" {
			b = append(b, ' ')
			b = append(b, name...)
			b = append(b, '=', '"')
			b = appendParamValue(b, value)
			b = append(b, '"')
		}
	}
	p("audit.seq", strconv.FormatUint(r.Seq, 10))
	p("event.id", r.ID)
	p("event.action", r.Action)
	p("event.outcome", string(r.Outcome))
	p("event.reason", r.Reason)
	if r.Severity != 0 {
		p("event.severity", strconv.Itoa(int(r.Severity)))
	}
	p("user.name", r.User)
	for _, role := range r.Roles {
		p("user.roles", role)
	}
	p("zapgate.key", r.Key)
	if r.SourceIP.IsValid() {
		p("source.ip", r.SourceIP.String())
	}
	p("zapgate.service", r.Service)
	p("zapgate.command", r.Command)
	p("zapgate.topic", r.Topic)
	if r.Stale {
		p("zapgate.stale", "true")
	}
	p("rule.id", r.RuleID)
	p("rule.ruleset", r.Ruleset)
	p("zapgate.policy_hash", r.PolicyHash)
	if r.Truncated {
		p("zapgate.truncated", "true")
	}
	if cp := r.Checkpoint; cp != nil {
		p("audit.checkpoint.seq", strconv.FormatUint(cp.Seq, 10))
		p("audit.checkpoint.file", cp.File)
		p("audit.checkpoint.key_id", cp.KeyID)
	}
	p("audit.hash", r.Hash)
	return append(b, ']')
}

// appendParamValue appends a PARAM-VALUE with '"', '\' and ']' escaped by
// a backslash (RFC 5424 section 6.3.3).
func appendParamValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', ']':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return b
}
