package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The canonical encoding: one JSON object, fields in the fixed order below,
// empty fields left out, no whitespace, integers in decimal, strings as
// UTF-8 with only the escapes appendString writes. The record's hash is
// the SHA-256 of this encoding up to and including "audit.prev_hash" and a
// closing brace; the stored line then adds "audit.hash".

// timeLayout is the canonical "@timestamp": UTC with microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// GenesisHash is the "audit.prev_hash" of record 1.
var GenesisHash = strings.Repeat("0", 64)

// appendBody appends the opening brace and every field of rec before the
// chain fields.
func appendBody(b []byte, rec *Record) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = rec.Time.AppendFormat(b, timeLayout)
	b = append(b, `","event.id":`...)
	b = appendString(b, rec.ID)
	b = append(b, `,"event.action":`...)
	b = appendString(b, rec.Action)
	b = append(b, `,"event.outcome":`...)
	b = appendString(b, string(rec.Outcome))
	b = appendField(b, "event.reason", rec.Reason)
	if rec.Severity != 0 {
		b = append(b, `,"event.severity":`...)
		b = strconv.AppendUint(b, uint64(rec.Severity), 10)
	}
	b = appendField(b, "user.name", rec.User)
	b = appendList(b, "user.roles", rec.Roles)
	b = appendList(b, "zapgate.groups", rec.Groups)
	b = appendField(b, "zapgate.key", rec.Key)
	if rec.SourceIP.IsValid() {
		b = append(b, `,"source.ip":"`...)
		b = rec.SourceIP.AppendTo(b)
		b = append(b, '"')
	}
	b = appendField(b, "zapgate.service", rec.Service)
	b = appendField(b, "zapgate.command", rec.Command)
	b = appendField(b, "zapgate.topic", rec.Topic)
	if rec.Stale {
		b = append(b, `,"zapgate.stale":true`...)
	}
	b = appendField(b, "rule.id", rec.RuleID)
	b = appendField(b, "rule.ruleset", rec.Ruleset)
	b = appendField(b, "zapgate.policy_hash", rec.PolicyHash)
	if rec.Truncated {
		b = append(b, `,"zapgate.truncated":true`...)
	}
	if cp := rec.Checkpoint; cp != nil {
		b = append(b, `,"audit.checkpoint.seq":`...)
		b = strconv.AppendUint(b, cp.Seq, 10)
		b = append(b, `,"audit.checkpoint.hash":`...)
		b = appendString(b, cp.Hash)
		b = append(b, `,"audit.checkpoint.file":`...)
		b = appendString(b, cp.File)
		b = append(b, `,"audit.checkpoint.key_id":`...)
		b = appendString(b, cp.KeyID)
		b = append(b, `,"audit.checkpoint.sig":`...)
		b = appendString(b, cp.Sig)
	}
	return b
}

// appendChain appends "audit.seq" and "audit.prev_hash" to a body.
func appendChain(b []byte, seq uint64, prev string) []byte {
	b = append(b, `,"audit.seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"audit.prev_hash":"`...)
	b = append(b, prev...)
	return append(b, '"')
}

// hashPrefix returns the record hash of a line prefix that ends with the
// chain fields: SHA-256 over the prefix and a closing brace.
func hashPrefix(prefix []byte) string {
	h := sha256.New()
	h.Write(prefix)
	h.Write([]byte{'}'})
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// appendHash closes a line prefix with its "audit.hash".
func appendHash(b []byte, hash string) []byte {
	b = append(b, `,"audit.hash":"`...)
	b = append(b, hash...)
	return append(b, `"}`...)
}

// encodeLine returns the canonical line of rec (no newline) with the hash
// computed from its content; rec.Hash is ignored.
func encodeLine(rec *Record) (line []byte, hash string) {
	b := appendChain(appendBody(nil, rec), rec.Seq, rec.PrevHash)
	hash = hashPrefix(b)
	return appendHash(b, hash), hash
}

func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

func appendList(b []byte, name string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":[`...)
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: '"' and '\' escaped with a
// backslash, \n \r \t by name, other control characters, DEL, U+2028 and
// U+2029 as \u00xx / \u20xx, invalid UTF-8 as U+FFFD, everything else as
// UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x7f {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
