package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// compiler turns a rawPolicy into a Policy, collecting every problem.
type compiler struct {
	file  string
	errs  Errors
	warns Errors
	p     *Policy
}

func (c *compiler) errorf(line int, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) warnf(line int, format string, args ...any) {
	c.warns = append(c.warns, &Error{File: c.file, Line: line, Msg: "warning: " + fmt.Sprintf(format, args...)})
}

// roleNameRE is what a role name may look like: it travels in the ZAP
// role property and in audit records.
var roleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Built-in rules cited when no rule of the file decides.
var (
	defaultRule  = Rule{Kind: RuleDefault, ID: "default-deny"}
	invalidRule  = Rule{Kind: RuleInvalid, ID: "invalid-action"}
	noPolicyRule = Rule{Kind: RuleNoPolicy, ID: "no-policy", Reason: "no policy is loaded"}
)

func compile(name string, data []byte, raw *rawPolicy) (*Policy, Errors) {
	sum := sha256.Sum256(data)
	p := &Policy{
		file:        name,
		hash:        hex.EncodeToString(sum[:]),
		description: raw.description,
		roleIdx:     map[string]int{},
		subjects:    map[string]*subjectEntry{},
		rules:       map[string]Rule{},
	}
	c := &compiler{file: name, p: p}
	p.revision = "sha256:" + p.hash[:12]
	if rv := raw.revision; rv.s != "" {
		if len(rv.s) > 128 || strings.IndexFunc(rv.s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0 {
			c.errorf(rv.line, "revision: at most 128 printable characters")
		}
		p.revision = rv.s
	}
	for _, r := range []Rule{defaultRule, invalidRule} {
		r.File = name
		p.rules[r.ID] = r
	}
	c.roles(raw.roles)
	p.words = (len(p.roles) + 63) / 64
	used := make([]bool, len(p.roles))
	for i, b := range raw.bindings {
		c.binding(i, b, used)
	}
	for i, d := range raw.deny {
		c.denyRule(i, d)
	}
	for i, r := range p.roles {
		if !used[i] {
			c.warnf(r.line, "role %q is not granted by any binding", r.name)
		}
	}
	c.tests(raw.tests)
	p.warnings = c.warns
	return p, c.errs
}

func (c *compiler) roles(raws []*rawRole) {
	p := c.p
	for _, rr := range raws {
		name := rr.name.s
		if !roleNameRE.MatchString(name) {
			c.errorf(rr.name.line, "role %q: a role name is 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
		}
		r := &role{name: name, line: rr.name.line, description: rr.description}
		base := Rule{Kind: RuleGrant, Role: name, File: c.file}
		r.perms = c.compilePerms(&rr.perms, fmt.Sprintf("role %q", name), "role:"+name+":", base)
		if r.perms.empty() {
			c.warnf(r.line, "role %q grants nothing", name)
		}
		r.perms.each(func(_ Kind, rule *Rule) { p.rules[rule.ID] = *rule })
		p.roleIdx[name] = len(p.roles)
		p.roles = append(p.roles, r)
	}
}

func (c *compiler) binding(i int, rb *rawBinding, used []bool) {
	p := c.p
	what := fmt.Sprintf("binding #%d", i+1)
	key, display, value, ok := c.subject(&rb.subject, rb.line, what, rb.ok)
	b := &binding{subject: display, value: value, isGroup: rb.subject.group.line > 0, line: rb.line, description: rb.description}
	seen := map[string]bool{}
	for _, rn := range rb.roles {
		idx, defined := p.roleIdx[rn.s]
		switch {
		case !defined:
			c.errorf(rn.line, "%s: undefined role %q%s", what, rn.s, c.suggestRole(rn.s))
		case seen[rn.s]:
			c.errorf(rn.line, "%s: role %q listed twice", what, rn.s)
		default:
			seen[rn.s] = true
			used[idx] = true
			b.roles = append(b.roles, idx)
		}
	}
	p.bindings = append(p.bindings, b)
	if !ok {
		return
	}
	e := c.entry(key)
	for _, idx := range b.roles {
		e.roles[idx/64] |= 1 << (idx % 64)
	}
	e.bindings = append(e.bindings, i)
}

func (c *compiler) denyRule(i int, rd *rawDeny) {
	p := c.p
	what := fmt.Sprintf("deny rule #%d", i+1)
	key, display, value, ok := c.subject(&rd.subject, rd.line, what, rd.ok)
	d := &denyRule{subject: display, value: value, isGroup: rd.subject.group.line > 0}
	var parts []string
	if len(rd.scope.actions) > 0 {
		var names []string
		for _, a := range rd.scope.actions {
			k, err := ParseKind(a.s)
			if err != nil {
				c.errorf(a.line, "%s actions: unknown action %q (want %s)", what, a.s, kindList)
				continue
			}
			d.kinds |= 1 << k
			names = append(names, a.s)
		}
		parts = append(parts, "actions "+strings.Join(names, ", "))
	}
	d.scope = c.compilePerms(&rd.scope, what, "", Rule{})
	d.scope.each(func(k Kind, r *Rule) { parts = append(parts, k.String()+" "+r.Text) })
	d.all = len(rd.scope.actions) == 0 && d.scope.empty() && rd.scope.connect == nil
	text := "every action"
	if !d.all {
		text = strings.Join(parts, "; ")
	}
	d.rule = Rule{Kind: RuleDeny, ID: fmt.Sprintf("deny#%d", i+1), Subject: display, Text: text,
		Reason: rd.reason, File: c.file, Line: rd.line}
	p.rules[d.rule.ID] = d.rule
	p.deny = append(p.deny, d)
	if ok {
		e := c.entry(key)
		e.deny = append(e.deny, i)
	}
}

// entry returns the subject entry for key, creating it.
func (c *compiler) entry(key string) *subjectEntry {
	e := c.p.subjects[key]
	if e == nil {
		e = &subjectEntry{roles: make([]uint64, c.p.words)}
		c.p.subjects[key] = e
	}
	return e
}

// subject validates the group or principal of a binding or deny rule and
// returns its lookup key, its description and its value as written.
// decoded is false when the entry itself was already reported unusable.
func (c *compiler) subject(s *rawSubject, line int, what string, decoded bool) (key, display, value string, ok bool) {
	switch {
	case !decoded:
	case s.keys == 0:
		c.errorf(line, "%s: needs group: or principal:", what)
	case s.keys > 1:
		c.errorf(line, "%s: give either group: or principal:, not both", what)
	case s.group.line > 0:
		g := s.group
		k, valid := appendGroupKey(nil, g.s)
		if !valid {
			c.errorf(g.line, "%s group: %s", what, groupProblem(g.s))
			return "", "", "", false
		}
		return string(k), fmt.Sprintf("group %q", g.s), g.s, true
	case s.principal.line > 0:
		pr := s.principal
		if msg := principalProblem(pr.s); msg != "" {
			c.errorf(pr.line, "%s principal: %q %s", what, pr.s, msg)
			return "", "", "", false
		}
		return string(appendPrincipalKey(nil, pr.s)), fmt.Sprintf("principal %q", pr.s), pr.s, true
	}
	return "", "", "", false
}

// groupProblem explains why appendGroupKey refused g.
func groupProblem(g string) string {
	t := trimSpace(g)
	if len(t) >= 5 && equalFoldASCII(t[:5], "okta:") {
		return fmt.Sprintf("%q: an Okta group needs a name or ID after okta:", g)
	}
	return fmt.Sprintf(`%q is not a valid distinguished name (RFC 4514: TYPE=VALUE pairs separated by ','; escape , + " \ < > ; in values with a backslash)`, g)
}

// principalProblem checks a principal written in the policy.
func principalProblem(s string) string {
	if trimSpace(s) != s {
		return "has leading or trailing whitespace"
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0 {
		return "contains a control character or invalid UTF-8"
	}
	return ""
}

// suggestRole returns ` (did you mean "x"?)` for a role name that differs
// from a defined one only in case, or "".
func (c *compiler) suggestRole(name string) string {
	for _, r := range c.p.roles {
		if strings.EqualFold(r.name, name) {
			return fmt.Sprintf(" (did you mean %q?)", r.name)
		}
	}
	return ""
}
