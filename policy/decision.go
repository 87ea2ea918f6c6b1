package policy

import (
	"fmt"
	"strings"
)

// RuleKind tells which part of a policy decided.
type RuleKind uint8

// The kinds of rule a Decision can cite.
const (
	// RuleDefault is the default deny: no role of the subject grants the
	// action.
	RuleDefault RuleKind = iota
	// RuleDeny is an entry of the policy's deny list.
	RuleDeny
	// RuleGrant is one permission entry of a role.
	RuleGrant
	// RuleInvalid means the action itself is malformed (unknown kind,
	// empty or wildcard name); it is denied without consulting the policy.
	RuleInvalid
	// RuleNoPolicy means there is no policy at all; everything is denied.
	RuleNoPolicy
)

// String names the rule kind.
func (k RuleKind) String() string {
	switch k {
	case RuleDefault:
		return "default-deny"
	case RuleDeny:
		return "deny"
	case RuleGrant:
		return "grant"
	case RuleInvalid:
		return "invalid-action"
	case RuleNoPolicy:
		return "no-policy"
	}
	return fmt.Sprintf("rule-kind(%d)", uint8(k))
}

// Rule identifies the exact part of a policy that decided. Rules are
// compiled at load and copied into decisions, so citing one never
// allocates.
type Rule struct {
	// Kind is what sort of rule this is.
	Kind RuleKind
	// ID names the rule within the policy revision: "deny#2" (second entry
	// of deny:), "role:proxy:request#1" (first request entry of role
	// proxy), "role:proxy:connect", "default-deny", "invalid-action" or
	// "no-policy". Audit records carry it as rule.id, tests as
	// expect_rule.
	ID string
	// Role is the role whose entry granted (RuleGrant only).
	Role string
	// Subject is the group or principal a deny rule names, as written
	// (RuleDeny only), e.g. `group "okta:quarantine"`.
	Subject string
	// Text is the entry as written, abbreviated, e.g.
	// "service proxy, commands task.*" or "from 10.20.0.0/16".
	Text string
	// Reason is a deny rule's reason: text (RuleDeny), or what is wrong
	// with the action (RuleInvalid).
	Reason string
	// File and Line locate the rule; Line is 0 for rules that are not
	// written in the file.
	File string
	// Line is the 1-based line of the rule in File, or 0.
	Line int
	// Approvals is how many distinct people must approve an enrollment
	// that this rule grants: 1 or 2 for a role's enroll entry, 0 for every
	// other rule.
	Approvals int
}

// String describes the rule in one line, e.g.
// `role:proxy:publish#1 "topic job.status.*" (policy.yaml:31)`.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.ID)
	if r.Text != "" {
		fmt.Fprintf(&b, " %q", r.Text)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, " reason %q", r.Reason)
	}
	if r.Line > 0 {
		fmt.Fprintf(&b, " (%s:%d)", r.File, r.Line)
	}
	return b.String()
}

// Decision is the answer to one Decide call.
type Decision struct {
	// Allow is true only when a role grants the action and no deny rule
	// covers it.
	Allow bool
	// Roles are the subject's roles in the order the policy defines them
	// (nil when none); the broker sends them as the ZAP role property.
	Roles []string
	// Rule is the rule that decided: the granting role entry, the deny
	// rule that won, or the default deny.
	Rule Rule
	// Revision is the policy's declared revision, or "sha256:" and the
	// first 12 hex digits of the SHA-256 of the file's bytes.
	Revision string
	// PolicyHash is the deciding policy's ContentHash; audit records carry
	// it as zapgate.policy_hash.
	PolicyHash string
}

// Outcome returns "allow" or "deny".
func (d Decision) Outcome() string {
	if d.Allow {
		return "allow"
	}
	return "deny"
}

// String describes the decision in one line, e.g.
// `allow by role:proxy:serve#1 "service proxy" (policy.yaml:30), revision 7`.
func (d Decision) String() string {
	return fmt.Sprintf("%s by %s, revision %s", d.Outcome(), d.Rule, d.Revision)
}
