package policy

import (
	"fmt"
	"io"
	"strings"
)

// Explanation is the reasoning behind one decision, in the terms a
// security reviewer checks: which bindings named which of the subject's
// groups, the roles that gave, which deny rules named the subject, which
// role entries would allow the action, and what decided.
type Explanation struct {
	// Decision is exactly what Decide returns for the same input.
	Decision Decision
	// Subject and Action are the input.
	Subject Subject
	// Action is the action that was decided.
	Action Action
	// Inputs has one entry for the principal (when not empty) and one per
	// group, in the order given.
	Inputs []InputMatch
	// DenyRules are the deny rules that name the subject, in file order,
	// with whether each covers the action.
	DenyRules []DenyMatch
	// Grants are every role entry that covers the action, in the order
	// Decide tries them; without a deny rule, the first one decides.
	Grants []Rule
	// Problem says what is wrong with a malformed action, or "".
	Problem string
	// File is the policy file the decision was made under.
	File string
}

// InputMatch is what the policy says about one principal or group of the
// subject.
type InputMatch struct {
	// Kind is "principal" or "group".
	Kind string
	// Value is the principal or group as given.
	Value string
	// Invalid is true for a group string that is not a valid group name
	// (e.g. a malformed DN); it is ignored.
	Invalid bool
	// Bindings are the bindings that name this input.
	Bindings []BindingRef
	// DenyRules are the IDs of the deny rules that name this input.
	DenyRules []string
}

// BindingRef cites one binding.
type BindingRef struct {
	// Number is the binding's 1-based position in bindings:.
	Number int
	// Line is the binding's line in the policy file.
	Line int
	// Subject is the binding's group or principal as written.
	Subject string
	// Roles are the roles the binding grants.
	Roles []string
}

// DenyMatch is a deny rule that names the subject.
type DenyMatch struct {
	// Rule is the deny rule.
	Rule Rule
	// Covers tells whether the rule's scope includes the action.
	Covers bool
}

// Explain decides like Decide and records why.
func (p *Policy) Explain(subject Subject, action Action) *Explanation {
	e := &Explanation{Decision: p.Decide(subject, action), Subject: subject, Action: action}
	if p == nil {
		return e
	}
	e.File = p.file
	action.Source = normSource(action.Source)
	e.Problem = action.check()
	denySeen := map[int]bool{}
	add := func(kind, value string, key []byte, ok bool) {
		in := InputMatch{Kind: kind, Value: value, Invalid: !ok}
		if ent := p.subjects[string(key)]; ok && ent != nil {
			for _, bi := range ent.bindings {
				b := p.bindings[bi]
				ref := BindingRef{Number: bi + 1, Line: b.line, Subject: b.subject}
				for _, ri := range b.roles {
					ref.Roles = append(ref.Roles, p.roles[ri].name)
				}
				in.Bindings = append(in.Bindings, ref)
			}
			for _, di := range ent.deny {
				in.DenyRules = append(in.DenyRules, p.deny[di].rule.ID)
				denySeen[di] = true
			}
		}
		e.Inputs = append(e.Inputs, in)
	}
	if subject.Principal != "" {
		add("principal", subject.Principal, appendPrincipalKey(nil, subject.Principal), true)
	}
	for _, g := range subject.Groups {
		key, ok := appendGroupKey(nil, g)
		add("group", g, key, ok)
	}
	for i, d := range p.deny {
		if denySeen[i] {
			e.DenyRules = append(e.DenyRules, DenyMatch{Rule: d.rule, Covers: e.Problem == "" && d.applies(&action)})
		}
	}
	if e.Problem == "" {
		for _, name := range e.Decision.Roles {
			p.roles[p.roleIdx[name]].perms.eachGrant(&action, func(r *Rule) { e.Grants = append(e.Grants, *r) })
		}
	}
	return e
}

// WriteText prints the explanation in plain words.
func (e *Explanation) WriteText(w io.Writer) error {
	var b strings.Builder
	d := e.Decision
	fmt.Fprintf(&b, "decision: %s\n", strings.ToUpper(d.Outcome()))
	fmt.Fprintf(&b, "rule:     %s\n", d.Rule)
	fmt.Fprintf(&b, "revision: %s\n", d.Revision)
	fmt.Fprintf(&b, "action:   %s\n\n", e.Action)

	b.WriteString("identity:\n")
	if len(e.Inputs) == 0 {
		b.WriteString("  (no principal and no groups)\n")
	}
	for _, in := range e.Inputs {
		fmt.Fprintf(&b, "  %s %q: ", in.Kind, in.Value)
		switch {
		case in.Invalid:
			b.WriteString("not a valid group name; ignored\n")
		case len(in.Bindings) == 0 && len(in.DenyRules) == 0:
			b.WriteString("not named by this policy; ignored\n")
		default:
			var parts []string
			for _, ref := range in.Bindings {
				parts = append(parts, fmt.Sprintf("binding #%d (line %d) grants %s", ref.Number, ref.Line, plural("role", ref.Roles)))
			}
			for _, id := range in.DenyRules {
				parts = append(parts, "named by "+id)
			}
			b.WriteString(strings.Join(parts, "; ") + "\n")
		}
	}
	if len(d.Roles) == 0 {
		b.WriteString("  roles: none\n")
	} else {
		fmt.Fprintf(&b, "  roles: %s\n", strings.Join(d.Roles, ", "))
	}

	b.WriteString("\nwhy:\n")
	e.writeWhy(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (e *Explanation) writeWhy(b *strings.Builder) {
	d := e.Decision
	switch d.Rule.Kind {
	case RuleNoPolicy:
		b.WriteString("  no policy is loaded; everything is denied.\n")
		return
	case RuleInvalid:
		fmt.Fprintf(b, "  the action is malformed (%s); it is denied without consulting the roles.\n", e.Problem)
		return
	}
	if len(e.DenyRules) == 0 {
		b.WriteString("  no deny rule names this identity.\n")
	}
	for _, dm := range e.DenyRules {
		if dm.Covers {
			fmt.Fprintf(b, "  %s (line %d) names %s and covers %s", dm.Rule.ID, dm.Rule.Line, dm.Rule.Subject, dm.Rule.Text)
			if dm.Rule.Reason != "" {
				fmt.Fprintf(b, " (reason: %s)", dm.Rule.Reason)
			}
			b.WriteString(": it applies.\n")
		} else {
			fmt.Fprintf(b, "  %s (line %d) names %s but covers only %s: it does not apply.\n", dm.Rule.ID, dm.Rule.Line, dm.Rule.Subject, dm.Rule.Text)
		}
	}
	for _, g := range e.Grants {
		fmt.Fprintf(b, "  role %s allows it: %s (line %d): %s.\n", g.Role, g.ID, g.Line, g.Text)
	}
	switch d.Rule.Kind {
	case RuleDeny:
		if len(e.Grants) > 0 {
			fmt.Fprintf(b, "  denied by %s: deny rules win over every grant.\n", d.Rule.ID)
		} else {
			fmt.Fprintf(b, "  denied by %s (no role would have allowed it either).\n", d.Rule.ID)
		}
	case RuleGrant:
		fmt.Fprintf(b, "  allowed by %s, the first grant in file order.\n", d.Rule.ID)
		if d.Rule.Approvals > 1 {
			fmt.Fprintf(b, "  the enrollment needs %d distinct approvers before the key is bound.\n", d.Rule.Approvals)
		}
	case RuleDefault:
		if len(d.Roles) == 0 {
			b.WriteString("  the identity has no roles; anything not allowed is denied (default deny).\n")
		} else {
			fmt.Fprintf(b, "  none of the roles %s allows %s; anything not allowed is denied (default deny).\n",
				strings.Join(d.Roles, ", "), e.Action)
		}
	}
}

// plural formats "role a" or "roles a, b".
func plural(noun string, items []string) string {
	if len(items) == 1 {
		return noun + " " + items[0]
	}
	return noun + "s " + strings.Join(items, ", ")
}
