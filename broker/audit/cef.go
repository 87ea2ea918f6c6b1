package audit

import (
	"strconv"
	"unicode/utf8"
)

// CEF (ArcSight Common Event Format, revision 25):
//
//	CEF:0|zapgate|zapgate|<version>|<event.action>|<action> <outcome>|<0-10>|<extension>
//
// Header fields escape '\' and '|' with a backslash. Extension values
// escape '\' and '=' with a backslash and write CR and LF as \r and \n.
// Other control characters (CEF has no escape for them) become U+FFFD in
// both; the jsonl export is the lossless one.

// cefField is one extension key and its value.
type cefField struct{ key, value string }

// appendCEF appends r as one CEF line.
func appendCEF(b []byte, r *Record, version string) []byte {
	b = append(b, "CEF:0|zapgate|zapgate|"...)
	b = appendCEFHeader(b, version)
	b = append(b, '|')
	b = appendCEFHeader(b, r.Action)
	b = append(b, '|')
	b = appendCEFHeader(b, r.Action+" "+string(r.Outcome))
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(siemSeverity(r)), 10)
	b = append(b, '|')
	first := true
	for _, f := range cefFields(r) {
		if f.value == "" {
			continue
		}
		if !first {
			b = append(b, ' ')
		}
		first = false
		b = append(b, f.key...)
		b = append(b, '=')
		b = appendCEFValue(b, f.value)
	}
	return b
}

// cefFields maps a record to CEF extension keys, in a fixed order.
func cefFields(r *Record) []cefField {
	fs := []cefField{
		{"rt", strconv.FormatInt(r.Time.UnixMilli(), 10)},
		{"externalId", r.ID},
		{"outcome", string(r.Outcome)},
		{"reason", r.Reason},
		{"suser", r.User},
	}
	if r.SourceIP.Is4() || r.SourceIP.Is4In6() {
		fs = append(fs, cefField{"src", r.SourceIP.Unmap().String()})
	} else if r.SourceIP.IsValid() {
		fs = append(fs, cefField{"c6a2", r.SourceIP.String()}, cefField{"c6a2Label", "sourceIPv6Address"})
	}
	fs = append(fs, labelled("cs1", "userRoles", listJSON(r.Roles))...)
	fs = append(fs, labelled("cs2", "groups", listJSON(r.Groups))...)
	fs = append(fs, labelled("cs3", "service", r.Service)...)
	fs = append(fs, labelled("cs4", "command", r.Command)...)
	fs = append(fs, labelled("cs5", "ruleId", r.RuleID)...)
	fs = append(fs, labelled("cs6", "ruleset", r.Ruleset)...)
	fs = append(fs, labelled("flexString1", "topic", r.Topic)...)
	fs = append(fs, labelled("flexString2", "keyFingerprint", r.Key)...)
	fs = append(fs, labelled("cn1", "auditSeq", strconv.FormatUint(r.Seq, 10))...)
	if r.Stale {
		fs = append(fs, labelled("cn2", "stale", "1")...)
	}
	if r.Truncated {
		fs = append(fs, labelled("cn3", "truncated", "1")...)
	}
	if r.PolicyHash != "" {
		fs = append(fs, cefField{"ad.policyHash", r.PolicyHash})
	}
	fs = append(fs, cefField{"ad.auditHash", r.Hash}, cefField{"ad.auditPrevHash", r.PrevHash})
	if cp := r.Checkpoint; cp != nil {
		fs = append(fs, cefField{"ad.checkpointSeq", strconv.FormatUint(cp.Seq, 10)},
			cefField{"ad.checkpointFile", cp.File}, cefField{"ad.checkpointKeyId", cp.KeyID})
	}
	return fs
}

// labelled returns a custom CEF field and its label, or nothing when the
// value is empty.
func labelled(key, label, value string) []cefField {
	if value == "" {
		return nil
	}
	return []cefField{{key, value}, {key + "Label", label}}
}

// appendCEFHeader appends a header field with '\' and '|' escaped.
func appendCEFHeader(b []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r == '\\' || r == '|':
			b = append(b, '\\', byte(r))
		case isControl(r):
			b = utf8.AppendRune(b, utf8.RuneError)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// appendCEFValue appends an extension value with '\' and '=' escaped and
// CR and LF written as \r and \n.
func appendCEFValue(b []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r == '\\' || r == '=':
			b = append(b, '\\', byte(r))
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

// isControl reports C0 controls, DEL, C1 controls and the line and
// paragraph separators.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029'
}
