package audit

import (
	"strconv"
	"strings"
	"unicode"
)

// FormatLine renders a record as one line for an operator:
//
//	2026-11-25T14:03:22.123Z #1042 authz.request failure user=PROXY01$ roles=proxy src=10.20.1.7 req=repository/task.start rule=deny[0]@2026-11-25.1 reason=role-not-allowed
//
// Values with spaces, quotes, '=', control or other non-printable
// characters are quoted Go-style, so a hostile value cannot forge fields,
// break the line or send terminal escapes.
func FormatLine(r *Record) string {
	var b strings.Builder
	b.WriteString(r.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteString(" #")
	b.WriteString(strconv.FormatUint(r.Seq, 10))
	b.WriteByte(' ')
	b.WriteString(r.Action)
	b.WriteByte(' ')
	b.WriteString(string(r.Outcome))
	raw := func(k, v string) {
		if v != "" {
			b.WriteByte(' ')
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	kv := func(k, v string) { raw(k, quoteIfNeeded(v)) }
	if r.Severity != 0 {
		kv("severity", strconv.Itoa(int(r.Severity)))
	}
	kv("user", r.User)
	roles := strings.Join(r.Roles, ",")
	for _, role := range r.Roles {
		if quoteIfNeeded(role) != role {
			roles = strconv.Quote(roles)
			break
		}
	}
	raw("roles", roles)
	if r.SourceIP.IsValid() {
		kv("src", r.SourceIP.String())
	}
	kv("key", r.Key)
	if r.Service != "" || r.Command != "" {
		kv("req", r.Service+"/"+r.Command)
	}
	kv("topic", r.Topic)
	if r.RuleID != "" || r.Ruleset != "" {
		kv("rule", r.RuleID+"@"+r.Ruleset)
	}
	if r.Stale {
		kv("stale", "true")
	}
	if cp := r.Checkpoint; cp != nil {
		kv("covers", "#"+strconv.FormatUint(cp.Seq, 10))
		kv("file", cp.File)
		kv("signer", cp.KeyID)
	}
	kv("reason", r.Reason)
	if len(r.Groups) > 0 {
		kv("groups", strconv.Itoa(len(r.Groups)))
	}
	if r.Truncated {
		kv("truncated", "true")
	}
	return b.String()
}

// quoteIfNeeded returns s, or s quoted with strconv.Quote when it holds a
// space, a quote, '=', ',' or a character that is not printable.
func quoteIfNeeded(s string) string {
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || r == ',' || r == '\\' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
