package policy

import "strings"

// A node subscribes with a pattern ("job.*", "job.**"), not a concrete
// topic. Such a Subscribe action is allowed only when one subscribe entry
// of a role covers every topic the requested pattern can match
// (subsumption), and it is denied when a deny rule's subscribe pattern
// could match even one of those topics (overlap): the grant is never wider
// than the policy's, and a deny rule always wins.

// isPattern reports whether a subscribe topic is a pattern.
func isPattern(topic string) bool { return strings.IndexByte(topic, '*') >= 0 }

// segments returns a pattern's segments (a literal is its own segments).
func (p *pattern) segments() []string {
	if p.segs != nil {
		return p.segs
	}
	return strings.Split(p.text, ".")
}

// subsumes reports whether every name matching q also matches g.
func subsumes(g, q []string) bool {
	for i, gs := range g {
		if gs == "**" {
			return len(q) > i
		}
		if i >= len(q) || q[i] == "**" {
			return false
		}
		if gs != "*" && (q[i] == "*" || q[i] != gs) {
			return false
		}
	}
	return len(g) == len(q)
}

// overlaps reports whether some name matches both a and b.
func overlaps(a, b []string) bool {
	for i := 0; ; i++ {
		switch {
		case i == len(a) || i == len(b):
			return len(a) == len(b)
		case a[i] == "**":
			return len(b) > i
		case b[i] == "**":
			return len(a) > i
		case a[i] != "*" && b[i] != "*" && a[i] != b[i]:
			return false
		}
	}
}

// grantPattern returns the first entry whose pattern covers the requested
// subscribe pattern q, or nil.
func grantPattern(ps []patternRule, q []string) *Rule {
	for i := range ps {
		if subsumes(ps[i].pat.segments(), q) {
			return &ps[i].rule
		}
	}
	return nil
}

// overlapsAny reports whether any entry's pattern overlaps q.
func overlapsAny(ps []patternRule, q []string) bool {
	for i := range ps {
		if overlaps(ps[i].pat.segments(), q) {
			return true
		}
	}
	return false
}
