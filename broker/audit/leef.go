package audit

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// LEEF 2.0 (IBM QRadar Log Event Extended Format):
//
//	LEEF:2.0|zapgate|zapgate|<version>|<event.action>|x09|key=value<TAB>key=value…
//
// The attribute delimiter is a tab, declared as "x09". Header fields
// escape '\' and '|' with a backslash. LEEF defines no escapes for
// attribute values, so zapgate's are: '\' as \\, tab as \t, LF as \n, CR
// as \r (so a value can never contain the delimiter or end the line);
// other control characters become U+FFFD.

// leefField is one attribute.
type leefField struct{ key, value string }

// appendLEEF appends r as one LEEF 2.0 line.
func appendLEEF(b []byte, r *Record, version string) []byte {
	b = append(b, "LEEF:2.0|zapgate|zapgate|"...)
	b = appendCEFHeader(b, version)
	b = append(b, '|')
	b = appendCEFHeader(b, r.Action)
	b = append(b, "|x09|"...)
	first := true
	for _, f := range leefFields(r) {
		if f.value == "" {
			continue
		}
		if !first {
			b = append(b, '\t')
		}
		first = false
		b = append(b, f.key...)
		b = append(b, '=')
		b = appendLEEFValue(b, f.value)
	}
	return b
}

// leefTimeFormat is devTimeFormat, in Java SimpleDateFormat syntax.
const leefTimeFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSX"

// leefFields maps a record to LEEF attributes: the predefined keys
// (devTime, cat, sev, usrName, src) then zapgate's own.
func leefFields(r *Record) []leefField {
	cat, _, _ := strings.Cut(r.Action, ".")
	fs := []leefField{
		{"devTime", r.Time.UTC().Format("2006-01-02T15:04:05.000Z")},
		{"devTimeFormat", leefTimeFormat},
		{"cat", cat},
		{"sev", strconv.Itoa(max(1, siemSeverity(r)))},
		{"usrName", r.User},
	}
	if r.SourceIP.IsValid() {
		fs = append(fs, leefField{"src", r.SourceIP.Unmap().String()})
	}
	fs = append(fs,
		leefField{"eventId", r.ID},
		leefField{"outcome", string(r.Outcome)},
		leefField{"reason", r.Reason},
		leefField{"roles", listJSON(r.Roles)},
		leefField{"groups", listJSON(r.Groups)},
		leefField{"keyFingerprint", r.Key},
		leefField{"service", r.Service},
		leefField{"command", r.Command},
		leefField{"topic", r.Topic},
		leefField{"ruleId", r.RuleID},
		leefField{"ruleset", r.Ruleset},
		leefField{"policyHash", r.PolicyHash},
	)
	if r.Stale {
		fs = append(fs, leefField{"stale", "true"})
	}
	if r.Truncated {
		fs = append(fs, leefField{"truncated", "true"})
	}
	fs = append(fs, leefField{"auditSeq", strconv.FormatUint(r.Seq, 10)},
		leefField{"auditPrevHash", r.PrevHash}, leefField{"auditHash", r.Hash})
	if cp := r.Checkpoint; cp != nil {
		fs = append(fs, leefField{"checkpointSeq", strconv.FormatUint(cp.Seq, 10)},
			leefField{"checkpointFile", cp.File}, leefField{"checkpointKeyId", cp.KeyID})
	}
	return fs
}

// appendLEEFValue appends an attribute value with zapgate's escapes.
func appendLEEFValue(b []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case isControl(r):
			b = utf8.AppendRune(b, utf8.RuneError)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}
