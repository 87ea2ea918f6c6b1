package policy

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// DiffResult lists what changes between two policies, for a reviewer
// approving the change.
type DiffResult struct {
	// Old and New are the two revisions.
	Old, New string
	// Identities and Actions count what was compared.
	Identities, Actions int
	// Roles are identities whose roles change.
	Roles []RoleChange
	// Decisions are identity and action pairs whose decision changes.
	Decisions []Change
}

// RoleChange is an identity whose roles differ between two policies.
type RoleChange struct {
	// Identity describes the identity, e.g. `group "okta:backup-proxies"`.
	Identity string
	// Old and New are its roles under each policy.
	Old, New []string
}

// Change is an identity and action whose decision differs between two
// policies.
type Change struct {
	// Identity describes the identity, e.g. `principal "PROXY01$"` or
	// `identity of test "a proxy cannot start tasks"`.
	Identity string
	// Subject is the identity as decided.
	Subject Subject
	// Action is the action as decided.
	Action Action
	// Old and New are the decisions under each policy.
	Old, New Decision
}

// identity is a synthetic subject diff decides for.
type identity struct {
	name    string
	subject Subject
}

// Diff compares the decisions of two policies. The identities are every
// group and principal named by either policy's bindings and deny rules,
// each alone, plus every test's identity; the actions are every action
// either policy names in its roles, deny rules and tests, with each
// wildcard segment replaced by "{any}" (and a final "**" also by
// "{any}.{any}"), and for connect: an unknown source, the first address of
// every from: prefix, and the documentation addresses 192.0.2.1 and
// 2001:db8::1 as "somewhere else". Every identity is decided against every
// action under both policies; a change of allow/deny is reported, as is a
// change of roles, and for enroll a change of the approvals required.
func Diff(old, new *Policy) *DiffResult {
	r := &DiffResult{Old: old.Revision(), New: new.Revision()}
	ids := diffIdentities(old, new)
	acts := diffActions(old, new)
	r.Identities, r.Actions = len(ids), len(acts)
	for _, id := range ids {
		or, nr := old.Roles(id.subject), new.Roles(id.subject)
		if !sameSet(or, nr) {
			r.Roles = append(r.Roles, RoleChange{Identity: id.name, Old: or, New: nr})
		}
		for _, a := range acts {
			od, nd := old.Decide(id.subject, a), new.Decide(id.subject, a)
			if od.Allow != nd.Allow || approvalsChange(a, od, nd) {
				r.Decisions = append(r.Decisions, Change{Identity: id.name, Subject: id.subject, Action: a, Old: od, New: nd})
			}
		}
	}
	return r
}

func diffIdentities(ps ...*Policy) []identity {
	var out []identity
	seen := map[string]bool{}
	add := func(name string, s Subject) {
		key := fmt.Sprintf("%q %q", s.Principal, s.Groups)
		if !seen[key] {
			seen[key] = true
			out = append(out, identity{name, s})
		}
	}
	subject := func(value string, isGroup bool) Subject {
		if isGroup {
			return Subject{Groups: []string{value}}
		}
		return Subject{Principal: value}
	}
	for _, p := range ps {
		for _, b := range p.bindings {
			add(b.subject, subject(b.value, b.isGroup))
		}
		for _, d := range p.deny {
			add(d.subject, subject(d.value, d.isGroup))
		}
		for _, t := range p.tests {
			add(fmt.Sprintf("identity of test %q", t.name), t.subject)
		}
	}
	return out
}

func diffActions(ps ...*Policy) []Action {
	var out []Action
	seen := map[Action]bool{}
	add := func(a Action) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, src := range []string{"", "192.0.2.1", "2001:db8::1"} {
		a := Action{Kind: Connect}
		if src != "" {
			a.Source = netip.MustParseAddr(src)
		}
		add(a)
	}
	collect := func(ps *perms) {
		if ps.connect != nil {
			for _, pf := range ps.connect.from {
				add(Action{Kind: Connect, Source: pf.Addr()})
			}
		}
		for _, pr := range ps.serve {
			for _, n := range pr.pat.sample() {
				add(Action{Kind: Serve, Service: n})
			}
		}
		for _, rq := range ps.request {
			for _, svc := range rq.service.sample() {
				for _, cmd := range rq.commands {
					for _, n := range cmd.sample() {
						add(Action{Kind: Request, Service: svc, Command: n})
					}
				}
			}
		}
		for _, pr := range ps.publish {
			for _, n := range pr.pat.sample() {
				add(Action{Kind: Publish, Topic: n})
			}
		}
		for _, pr := range ps.subscribe {
			for _, n := range pr.pat.sample() {
				add(Action{Kind: Subscribe, Topic: n})
			}
		}
		for _, er := range ps.enroll {
			for _, pp := range er.principals {
				add(Action{Kind: Enroll, Target: pp.sample()})
			}
		}
	}
	for _, p := range ps {
		for _, r := range p.roles {
			collect(&r.perms)
		}
		for _, d := range p.deny {
			collect(&d.scope)
		}
		for _, t := range p.tests {
			add(t.action)
		}
	}
	return out
}

// WriteText prints the changes grouped by identity.
func (r *DiffResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "compared %d identities x %d actions: revision %s -> %s\n", r.Identities, r.Actions, r.Old, r.New)
	if len(r.Roles) == 0 && len(r.Decisions) == 0 {
		b.WriteString("no decision changes\n")
	}
	if len(r.Roles) > 0 {
		fmt.Fprintf(&b, "\nroles change for %d %s:\n", len(r.Roles), count(len(r.Roles), "identity", "identities"))
		for _, rc := range r.Roles {
			fmt.Fprintf(&b, "  %s: [%s] -> [%s]\n", rc.Identity, strings.Join(rc.Old, ", "), strings.Join(rc.New, ", "))
		}
	}
	if len(r.Decisions) > 0 {
		fmt.Fprintf(&b, "\n%d %s:\n", len(r.Decisions), count(len(r.Decisions), "decision changes", "decisions change"))
		last := ""
		for _, c := range r.Decisions {
			if c.Identity != last {
				fmt.Fprintf(&b, "  %s\n", c.Identity)
				last = c.Identity
			}
			fmt.Fprintf(&b, "    %s -> %s  %s  [%s -> %s]\n", outcomeText(c.Old, false), outcomeText(c.New, true), c.Action,
				ruleBrief(c.Old.Rule), ruleBrief(c.New.Rule))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// approvalsChange reports whether an enrollment stays allowed but needs a
// different number of approvals.
func approvalsChange(a Action, od, nd Decision) bool {
	return a.Kind == Enroll && od.Allow && nd.Allow && od.Rule.Approvals != nd.Rule.Approvals
}

// outcomeText is the decision's outcome (upper case for the new one), with
// the approvals an allowed enrollment needs when that is more than one.
func outcomeText(d Decision, upper bool) string {
	o := d.Outcome()
	if upper {
		o = strings.ToUpper(o)
	}
	if d.Allow && d.Rule.Approvals > 1 {
		return fmt.Sprintf("%s (%d approvals)", o, d.Rule.Approvals)
	}
	return o
}

// ruleBrief is "rule-id" or "rule-id, line N".
func ruleBrief(r Rule) string {
	if r.Line > 0 {
		return fmt.Sprintf("%s, line %d", r.ID, r.Line)
	}
	return r.ID
}

// count picks the singular or plural phrase for n.
func count(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
