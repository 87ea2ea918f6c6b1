package policy

import (
	"fmt"
	"strings"
)

// Weakening is what a new policy drops that guarded the old one: deny
// rules and embedded tests. A reload that drops either is logged at
// warning with the policy diff and recorded in its policy.reload record
// (docs/security.md "Policy reload"), since that is what a truncated or
// careless edit looks like even when the revision did not change.
type Weakening struct {
	// Deny are the old policy's deny rules the new one lacks, e.g.
	// `group "CN=Quarantine,...": every action`.
	Deny []string
	// Tests are the names of the old policy's tests the new one lacks.
	Tests []string
	// Diff is the text of Diff(old, new).WriteText: every decision that
	// changes.
	Diff string
}

// Summary describes the weakening in one line, e.g.
// `removed 1 deny rule, 2 tests; 3 decisions change`.
func (w *Weakening) Summary() string {
	var parts []string
	if n := len(w.Deny); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", n, count(n, "deny rule", "deny rules")))
	}
	if n := len(w.Tests); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", n, count(n, "test", "tests")))
	}
	return "removed " + strings.Join(parts, ", ")
}

// Weakened compares old and new and returns what new removed, or nil when
// new keeps every deny rule (the same subject and scope) and every test
// name of old.
func Weakened(old, new *Policy) *Weakening {
	if old == nil || new == nil {
		return nil
	}
	w := &Weakening{}
	kept := map[string]int{}
	for _, d := range new.deny {
		kept[denyKey(d)]++
	}
	for _, d := range old.deny {
		if k := denyKey(d); kept[k] > 0 {
			kept[k]--
		} else {
			w.Deny = append(w.Deny, d.subject+": "+d.rule.Text)
		}
	}
	names := map[string]bool{}
	for _, t := range new.tests {
		names[t.name] = true
	}
	for _, t := range old.tests {
		if !names[t.name] {
			w.Tests = append(w.Tests, t.name)
		}
	}
	if len(w.Deny) == 0 && len(w.Tests) == 0 {
		return nil
	}
	var b strings.Builder
	_ = Diff(old, new).WriteText(&b)
	w.Diff = b.String()
	return w
}

// denyKey identifies a deny rule across revisions: its subject (group DNs
// case-insensitively) and its scope, not its position.
func denyKey(d *denyRule) string {
	subject := d.subject
	if d.isGroup {
		subject = strings.ToLower(subject)
	}
	return subject + "\x00" + d.rule.Text
}
