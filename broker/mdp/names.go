package mdp

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxNameLen bounds a command name, a topic and a subscription pattern.
const MaxNameLen = 255

// CheckName reports why s is not a valid concrete name for a service, a
// command or a topic, or nil. A name is 1 to MaxNameLen bytes of UTF-8
// without control characters, made of non-empty segments separated by
// '.', and contains no '*'. These are the rules of the policy engine, so
// a name the broker accepts is one the policy can decide.
func CheckName(s string) error {
	if err := checkText(s); err != nil {
		return err
	}
	if strings.IndexByte(s, '*') >= 0 {
		return errors.New("contains '*'")
	}
	if emptySegment(s) {
		return errors.New("has an empty segment")
	}
	return nil
}

// CheckPattern reports why s is not a valid subscription pattern, or nil.
// A pattern is a name whose segments may also be "*" (exactly one
// segment) or, as the last segment, "**" (one or more segments); partial
// wildcards such as "job*" are invalid. The syntax is the policy
// engine's.
func CheckPattern(s string) error {
	if err := checkText(s); err != nil {
		return err
	}
	if emptySegment(s) {
		return errors.New("has an empty segment")
	}
	segs := strings.Split(s, ".")
	for i, seg := range segs {
		switch {
		case seg == "**" && i != len(segs)-1:
			return errors.New(`"**" may only be the last segment`)
		case seg == "*" || seg == "**":
		case strings.IndexByte(seg, '*') >= 0:
			return errors.New(`'*' must be a whole segment`)
		}
	}
	return nil
}

// MatchTopic reports whether the concrete topic matches the pattern (both
// valid): "*" matches one segment, a final "**" one or more, any other
// segment itself. "job.*" matches "job.done" but neither "job" nor
// "job.a.b"; "job.**" matches both "job.a" and "job.a.b".
func MatchTopic(pattern, topic string) bool {
	for {
		pseg, prest, pmore := strings.Cut(pattern, ".")
		if pseg == "**" {
			return topic != ""
		}
		tseg, trest, tmore := strings.Cut(topic, ".")
		if pseg != "*" && pseg != tseg {
			return false
		}
		if !pmore || !tmore {
			return pmore == tmore
		}
		pattern, topic = prest, trest
	}
}

func checkText(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case len(s) > MaxNameLen:
		return errors.New("is longer than 255 bytes")
	case !utf8.ValidString(s):
		return errors.New("is not UTF-8")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return errors.New("contains a control character")
		}
	}
	return nil
}

func emptySegment(s string) bool {
	return s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..")
}
