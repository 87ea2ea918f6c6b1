package policy

import (
	"fmt"
	"net/netip"
	"strings"
)

// perms are the compiled permission lists of a role, or the scope of a
// deny rule.
type perms struct {
	connect   *connectPerm
	serve     []patternRule
	request   []requestRule
	publish   []patternRule
	subscribe []patternRule
	enroll    []enrollRule
}

type connectPerm struct {
	from []netip.Prefix // nil: any source
	rule Rule
}

type patternRule struct {
	pat  pattern
	rule Rule
}

type requestRule struct {
	service  pattern
	commands []pattern
	rule     Rule
}

// grant returns the first entry that allows a, or nil. A connect entry
// with from: needs a known source inside one of its prefixes.
func (ps *perms) grant(a *Action) *Rule {
	switch a.Kind {
	case Connect:
		if c := ps.connect; c != nil && (c.from == nil || a.Source.IsValid() && containsSource(c.from, a.Source)) {
			return &c.rule
		}
	case Serve:
		return matchPatterns(ps.serve, a.Service)
	case Request:
		for i := range ps.request {
			r := &ps.request[i]
			if !r.service.match(a.Service) {
				continue
			}
			for j := range r.commands {
				if r.commands[j].match(a.Command) {
					return &r.rule
				}
			}
		}
	case Publish:
		return matchPatterns(ps.publish, a.Topic)
	case Subscribe:
		if isPattern(a.Topic) {
			return grantPattern(ps.subscribe, strings.Split(a.Topic, "."))
		}
		return matchPatterns(ps.subscribe, a.Topic)
	case Enroll:
		return grantEnroll(ps.enroll, a.Target)
	}
	return nil
}

// eachGrant calls fn with every entry that allows a, in order.
func (ps *perms) eachGrant(a *Action, fn func(*Rule)) {
	one := func(list []patternRule, name string) {
		for i := range list {
			if list[i].pat.match(name) {
				fn(&list[i].rule)
			}
		}
	}
	switch a.Kind {
	case Connect:
		if r := ps.grant(a); r != nil {
			fn(r)
		}
	case Serve:
		one(ps.serve, a.Service)
	case Request:
		for i := range ps.request {
			sub := perms{request: ps.request[i : i+1]}
			if r := sub.grant(a); r != nil {
				fn(r)
			}
		}
	case Publish:
		one(ps.publish, a.Topic)
	case Subscribe:
		if isPattern(a.Topic) {
			q := strings.Split(a.Topic, ".")
			for i := range ps.subscribe {
				if subsumes(ps.subscribe[i].pat.segments(), q) {
					fn(&ps.subscribe[i].rule)
				}
			}
			return
		}
		one(ps.subscribe, a.Topic)
	case Enroll:
		for i := range ps.enroll {
			if r := grantEnroll(ps.enroll[i:i+1], a.Target); r != nil {
				fn(r)
			}
		}
	}
}

// covers reports whether a deny scope covers a. Unlike grant, a connect
// entry with from: covers a connection whose source is unknown: a deny
// rule fails closed.
func (ps *perms) covers(a *Action) bool {
	if a.Kind == Connect {
		c := ps.connect
		return c != nil && (c.from == nil || !a.Source.IsValid() || containsSource(c.from, a.Source))
	}
	if a.Kind == Subscribe && isPattern(a.Topic) {
		return overlapsAny(ps.subscribe, strings.Split(a.Topic, "."))
	}
	return ps.grant(a) != nil
}

func matchPatterns(ps []patternRule, name string) *Rule {
	for i := range ps {
		if ps[i].pat.match(name) {
			return &ps[i].rule
		}
	}
	return nil
}

// empty reports whether no permission is listed.
func (ps *perms) empty() bool {
	return ps.connect == nil && len(ps.serve) == 0 && len(ps.request) == 0 && len(ps.publish) == 0 && len(ps.subscribe) == 0 &&
		len(ps.enroll) == 0
}

// each calls fn with every entry's rule, in the order of the permission
// lists.
func (ps *perms) each(fn func(k Kind, r *Rule)) {
	if ps.connect != nil {
		fn(Connect, &ps.connect.rule)
	}
	for i := range ps.serve {
		fn(Serve, &ps.serve[i].rule)
	}
	for i := range ps.request {
		fn(Request, &ps.request[i].rule)
	}
	for i := range ps.publish {
		fn(Publish, &ps.publish[i].rule)
	}
	for i := range ps.subscribe {
		fn(Subscribe, &ps.subscribe[i].rule)
	}
	for i := range ps.enroll {
		fn(Enroll, &ps.enroll[i].rule)
	}
}

// compilePerms validates and compiles permission lists. Each entry's rule
// gets the ID prefix+kind (connect) or prefix+kind+"#N"; base fills the
// other fields of every rule.
func (c *compiler) compilePerms(rp *rawPerms, what, prefix string, base Rule) perms {
	var ps perms
	rule := func(id, text string, line int) Rule {
		r := base
		r.ID, r.Text, r.Line = prefix+id, text, line
		return r
	}
	if rc := rp.connect; rc != nil {
		cp := &connectPerm{}
		text := "from any source"
		if rc.from != nil {
			cp.from = []netip.Prefix{}
			var parts []string
			for _, f := range rc.from {
				p, err := parseSourcePrefix(f.s)
				if err != nil {
					c.errorf(f.line, "%s connect from: %v", what, err)
					continue
				}
				cp.from = append(cp.from, p)
				parts = append(parts, p.String())
			}
			text = "from " + strings.Join(parts, ", ")
		}
		cp.rule = rule("connect", text, rc.line)
		ps.connect = cp
	}
	pats := func(kind string, list []strAt) []patternRule {
		var out []patternRule
		for i, s := range list {
			p, ok := c.pattern(s, fmt.Sprintf("%s %s", what, kind))
			if !ok {
				continue
			}
			noun := "topic "
			if kind == "serve" {
				noun = "service "
			}
			out = append(out, patternRule{pat: p, rule: rule(fmt.Sprintf("%s#%d", kind, i+1), noun+s.s, s.line)})
		}
		return out
	}
	ps.serve = pats("serve", rp.serve)
	ps.publish = pats("publish", rp.publish)
	ps.subscribe = pats("subscribe", rp.subscribe)
	for i, rq := range rp.request {
		w := fmt.Sprintf("%s request #%d", what, i+1)
		r := requestRule{rule: rule(fmt.Sprintf("request#%d", i+1), "", rq.line)}
		ok := true
		if rq.service.line > 0 {
			r.service, ok = c.pattern(rq.service, w+" service")
		} else {
			ok = false
		}
		var cmds []string
		for _, s := range rq.commands {
			if p, good := c.pattern(s, w+" commands"); good {
				r.commands = append(r.commands, p)
				cmds = append(cmds, s.s)
			}
		}
		if ok && len(r.commands) > 0 {
			r.rule.Text = fmt.Sprintf("service %s, commands %s", rq.service.s, strings.Join(cmds, ", "))
			ps.request = append(ps.request, r)
		}
	}
	ps.enroll = c.compileEnroll(rp.enroll, what, base.Kind == RuleGrant, rule)
	return ps
}

// pattern compiles one pattern, reporting a problem at its line.
func (c *compiler) pattern(s strAt, what string) (pattern, bool) {
	p, err := compilePattern(s.s)
	if err != nil {
		c.errorf(s.line, "%s: %q: %v", what, s.s, err)
		return p, false
	}
	return p, true
}
