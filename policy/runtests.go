package policy

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// TestResult is the outcome of one embedded test.
type TestResult struct {
	// Name and Line identify the test in the policy file.
	Name string
	// Line is the test's line in the policy file.
	Line int
	// Pass is true when the decision matched every expectation.
	Pass bool
	// Decision is what the policy decided.
	Decision Decision
	// Expect is "allow" or "deny".
	Expect string
	// ExpectRule is the expected rule ID, or "" when not given.
	ExpectRule string
	// ExpectRoles are the expected roles, nil when not given.
	ExpectRoles []string
	// ExpectApprovals is the expected number of approvals of an enroll
	// grant, 0 when not given.
	ExpectApprovals int
	// Failure says what did not match, or "" when the test passed.
	Failure string
}

// TestNames returns the names of the policy's tests in file order.
func (p *Policy) TestNames() []string {
	out := make([]string, len(p.tests))
	for i, t := range p.tests {
		out[i] = t.name
	}
	return out
}

// RunTests runs the policy's embedded tests: all of them when filter is
// empty, else those whose name equals a filter entry or matches it as a
// path.Match pattern (e.g. "proxy*"). A filter entry that selects no test
// is an error, so a typo never passes silently.
func RunTests(p *Policy, filter []string) ([]TestResult, error) {
	selected := make([]bool, len(p.tests))
	for _, f := range filter {
		hit := false
		for i, t := range p.tests {
			if ok, _ := path.Match(f, t.name); ok || f == t.name {
				selected[i], hit = true, true
			}
		}
		if !hit {
			return nil, fmt.Errorf("policy: %s: no test named %q", p.file, f)
		}
	}
	var out []TestResult
	for i, t := range p.tests {
		if len(filter) > 0 && !selected[i] {
			continue
		}
		out = append(out, t.run(p))
	}
	return out, nil
}

func (t *testCase) run(p *Policy) TestResult {
	d := p.Decide(t.subject, t.action)
	r := TestResult{Name: t.name, Line: t.line, Decision: d, Expect: "deny", ExpectRule: t.expectRule, ExpectApprovals: t.approvals}
	if t.expectAllow {
		r.Expect = "allow"
	}
	if t.rolesSet {
		r.ExpectRoles = append([]string{}, t.expectRoles...)
	}
	var why []string
	if d.Allow != t.expectAllow {
		why = append(why, fmt.Sprintf("expected %s, got %s by %s", r.Expect, d.Outcome(), d.Rule.ID))
	}
	if t.expectRule != "" && d.Rule.ID != t.expectRule {
		why = append(why, fmt.Sprintf("expected rule %s, got %s", t.expectRule, d.Rule.ID))
	}
	if t.rolesSet && !sameSet(d.Roles, t.expectRoles) {
		why = append(why, fmt.Sprintf("expected roles [%s], got [%s]", strings.Join(t.expectRoles, ", "), strings.Join(d.Roles, ", ")))
	}
	if t.approvals != 0 && d.Rule.Approvals != t.approvals {
		why = append(why, fmt.Sprintf("expected %d approvals, got %d", t.approvals, d.Rule.Approvals))
	}
	r.Failure = strings.Join(why, "; ")
	r.Pass = r.Failure == ""
	return r
}

// checkTests runs every test and returns an error wrapping ErrTestsFailed
// that names the failures, or nil.
func checkTests(p *Policy) error {
	results, _ := RunTests(p, nil)
	var failed []string
	for _, r := range results {
		if !r.Pass {
			failed = append(failed, fmt.Sprintf("%q (line %d): %s", r.Name, r.Line, r.Failure))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("policy: %s: %w: %d of %d failed: %s", p.file, ErrTestsFailed, len(failed), len(results), strings.Join(failed, "; "))
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
