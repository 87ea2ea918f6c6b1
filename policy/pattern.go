package policy

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pattern is a compiled service, command or topic pattern. Names and
// patterns are sequences of segments separated by '.'. In a pattern, a
// segment "*" matches exactly one segment and a final segment "**" matches
// one or more segments; every other segment matches itself exactly
// (case-sensitively). So "task.*" matches "task.start" but neither "task"
// nor "task.a.b"; "task.**" matches "task.a" and "task.a.b" but not
// "task"; "**" matches every name.
type pattern struct {
	text string
	// segs is nil for a literal pattern, which is compared as a whole.
	segs []string
}

// compilePattern validates and compiles a pattern.
func compilePattern(s string) (pattern, error) {
	if s == "" {
		return pattern{}, errors.New("empty pattern")
	}
	if len(s) > maxName {
		return pattern{}, errors.New("pattern is longer than 1024 bytes")
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) {
			return pattern{}, errors.New("pattern contains whitespace, a control character or invalid UTF-8")
		}
	}
	segs := strings.Split(s, ".")
	wild := false
	for i, seg := range segs {
		switch {
		case seg == "":
			return pattern{}, errors.New("pattern has an empty segment (leading, trailing or doubled '.')")
		case seg == "**" && i != len(segs)-1:
			return pattern{}, errors.New(`"**" may only be the last segment`)
		case seg == "*" || seg == "**":
			wild = true
		case strings.Contains(seg, "*"):
			return pattern{}, errors.New(`'*' must be a whole segment ("*" or a final "**"); partial wildcards like "task*" are not supported`)
		}
	}
	if !wild {
		return pattern{text: s}, nil
	}
	return pattern{text: s, segs: segs}, nil
}

// match reports whether the concrete name (validated by nameProblem)
// matches the pattern. It does not allocate.
func (p *pattern) match(name string) bool {
	if p.segs == nil {
		return name == p.text
	}
	rest := name
	for i, seg := range p.segs {
		if seg == "**" {
			return rest != ""
		}
		head, tail, more := strings.Cut(rest, ".")
		if seg != "*" && seg != head {
			return false
		}
		if !more {
			return i == len(p.segs)-1
		}
		rest = tail
	}
	return false // the name has more segments than the pattern
}

// sample returns concrete names the pattern matches, for diff: the
// pattern itself when literal, else with each "*" replaced by "{any}"
// and a final "**" by "{any}" and by "{any}.{any}".
func (p *pattern) sample() []string {
	if p.segs == nil {
		return []string{p.text}
	}
	segs := append([]string(nil), p.segs...)
	last := segs[len(segs)-1] == "**"
	for i, s := range segs {
		if s == "*" || s == "**" {
			segs[i] = anySegment
		}
	}
	out := []string{strings.Join(segs, ".")}
	if last {
		out = append(out, out[0]+"."+anySegment)
	}
	return out
}

// anySegment stands for "some segment" in the sample names diff shows.
const anySegment = "{any}"
