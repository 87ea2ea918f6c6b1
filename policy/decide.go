package policy

import "math/bits"

// Decide answers whether subject may perform action. It does no I/O and,
// apart from the returned Roles slice, does not allocate for typical
// inputs. The order of evaluation is:
//
//  1. A malformed action (unknown kind, empty name, a name with an empty
//     segment, '*' or a control character) is denied: invalid-action.
//  2. The subject's principal and groups are looked up; strings the policy
//     does not name are ignored. This yields the roles and the deny rules
//     that name the subject.
//  3. The first deny rule (in file order) that names the subject and
//     covers the action denies it, whatever any role grants.
//  4. The first role (in file order) with an entry that covers the action
//     allows it; the entry is the decision's Rule. For Enroll, every
//     role's entries are considered and the one requiring the most
//     approvals is the Rule (the first of those in file order).
//  5. Otherwise the action is denied: default-deny.
func (p *Policy) Decide(subject Subject, action Action) Decision {
	if p == nil {
		return Decision{Rule: noPolicyRule}
	}
	var small [4]uint64 // 256 roles without allocating
	var set []uint64
	if p.words <= len(small) {
		set = small[:p.words]
	} else {
		set = make([]uint64, p.words)
	}
	action.Source = normSource(action.Source)
	valid := action.check() == ""
	deny := p.match(&subject, &action, valid, set)
	d := Decision{Roles: p.roleNames(set), Revision: p.revision, PolicyHash: p.contentHash}
	switch {
	case !valid:
		d.Rule = p.rules[invalidRule.ID]
		d.Rule.Reason = action.check()
	case deny >= 0:
		d.Rule = p.deny[deny].rule
	default:
		d.Rule = p.rules[defaultRule.ID]
		for i, w := range set {
			for ; w != 0; w &= w - 1 {
				r := p.roles[i*64+bits.TrailingZeros64(w)]
				g := r.perms.grant(&action)
				if g == nil {
					continue
				}
				if action.Kind != Enroll {
					d.Allow, d.Rule = true, *g
					return d
				}
				// Enroll: the strictest grant decides how many people must
				// approve, so a second role cannot lower the requirement.
				if !d.Allow || g.Approvals > d.Rule.Approvals {
					d.Allow, d.Rule = true, *g
				}
			}
		}
	}
	return d
}

// Roles returns the roles the policy gives subject, in file order (nil
// when none). This is what the broker sends as the ZAP role property.
func (p *Policy) Roles(subject Subject) []string {
	if p == nil {
		return nil
	}
	set := make([]uint64, p.words)
	p.match(&subject, &Action{}, false, set)
	return p.roleNames(set)
}

// match ORs the roles of every binding that names the subject into set
// and, when checkDeny, returns the index of the first deny rule that names
// the subject and covers a (-1 when none).
func (p *Policy) match(s *Subject, a *Action, checkDeny bool, set []uint64) int {
	deny := -1
	var buf [256]byte
	visit := func(e *subjectEntry) {
		for i, w := range e.roles {
			set[i] |= w
		}
		if !checkDeny {
			return
		}
		for _, idx := range e.deny {
			if deny >= 0 && idx >= deny {
				break // e.deny is ascending; an earlier rule already won
			}
			if p.deny[idx].applies(a) {
				deny = idx
				break
			}
		}
	}
	if s.Principal != "" {
		if e := p.subjects[string(appendPrincipalKey(buf[:0], s.Principal))]; e != nil {
			visit(e)
		}
	}
	for _, g := range s.Groups {
		key, ok := appendGroupKey(buf[:0], g)
		if !ok {
			continue
		}
		if e := p.subjects[string(key)]; e != nil {
			visit(e)
		}
	}
	return deny
}

// roleNames lists the roles in set, in file order.
func (p *Policy) roleNames(set []uint64) []string {
	n := 0
	for _, w := range set {
		n += bits.OnesCount64(w)
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i, w := range set {
		for ; w != 0; w &= w - 1 {
			out = append(out, p.roles[i*64+bits.TrailingZeros64(w)].name)
		}
	}
	return out
}
