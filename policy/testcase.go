package policy

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// testCase is one compiled entry of a policy's tests: list.
type testCase struct {
	name        string
	line        int
	subject     Subject
	action      Action
	expectAllow bool
	expectRule  string   // "" when not given
	expectRoles []string // compared as a set when expectRolesSet
	rolesSet    bool
	approvals   int // expect_approvals; 0 when not given
}

// test decodes one entry of tests:.
func (d *decoder) test(i int, n *yaml.Node) *rawTest {
	t := &rawTest{line: n.Line}
	what := fmt.Sprintf("test #%d", i+1)
	known := []string{"name", "identity", "action", "expect", "expect_rule", "expect_roles", "expect_approvals"}
	d.mapping(n, what, known, func(key string, _ *yaml.Node, v *yaml.Node) {
		switch key {
		case "name":
			t.name, _ = d.str(v, what+" name")
		case "identity":
			d.mapping(v, what+" identity", []string{"principal", "groups"}, func(key string, _, v *yaml.Node) {
				if key == "principal" {
					t.principal, _ = d.str(v, what+" identity principal")
				} else {
					t.groups = d.strs(v, what+" identity groups", true)
				}
			})
		case "action":
			t.actionOK = d.mapping(v, what+" action", []string{"kind", "service", "command", "topic", "source", "target"}, func(key string, _, v *yaml.Node) {
				s, _ := d.str(v, what+" action "+key)
				switch key {
				case "kind":
					t.kind = s
				case "service":
					t.service = s
				case "command":
					t.command = s
				case "topic":
					t.topic = s
				case "source":
					t.source = s
				case "target":
					t.target = s
				}
			})
		case "expect":
			t.expect, _ = d.str(v, what+" expect")
		case "expect_rule":
			t.expectRule, _ = d.str(v, what+" expect_rule")
		case "expect_roles":
			t.expectRoles = d.strs(v, what+" expect_roles", true)
			t.expectRolesSet = true
		case "expect_approvals":
			t.approvLine = v.Line
			switch {
			case !d.node(v, what+" expect_approvals"):
			case v.Kind != yaml.ScalarNode || v.Tag != "!!int" || (v.Value != "1" && v.Value != "2"):
				d.errorf(v.Line, "%s expect_approvals: %s; want 1 or 2", what, describe(v))
			default:
				t.approvals = int(v.Value[0] - '0')
			}
		}
	})
	if n.Kind == yaml.MappingNode {
		for _, k := range []string{"name", "identity", "action", "expect"} {
			if !hasKey(n, k) {
				d.errorf(n.Line, "%s: %s missing", what, k)
			}
		}
	}
	return t
}

// tests validates and compiles the tests: entries.
func (c *compiler) tests(raws []*rawTest) {
	names := map[string]int{}
	for i, rt := range raws {
		what := fmt.Sprintf("test #%d", i+1)
		if rt.name.s != "" {
			what = fmt.Sprintf("test %q", rt.name.s)
			if first, dup := names[rt.name.s]; dup {
				c.errorf(rt.name.line, "%s: duplicate test name (first at line %d)", what, first)
			}
			names[rt.name.s] = rt.name.line
		}
		t := &testCase{name: rt.name.s, line: rt.line, subject: Subject{Principal: rt.principal.s}}
		for _, g := range rt.groups {
			t.subject.Groups = append(t.subject.Groups, g.s)
		}
		c.testIdentity(rt, what)
		if rt.actionOK {
			t.action = c.testAction(rt, what)
		}
		switch rt.expect.s {
		case "allow":
			t.expectAllow = true
		case "deny", "":
		default:
			c.errorf(rt.expect.line, "%s expect: %q; want allow or deny", what, rt.expect.s)
		}
		if rt.expectRule.s != "" {
			if _, ok := c.p.rules[rt.expectRule.s]; !ok {
				c.errorf(rt.expectRule.line, "%s expect_rule: no rule %q in this policy (rule IDs look like deny#1, role:NAME:request#1, role:NAME:connect, default-deny)", what, rt.expectRule.s)
			}
			t.expectRule = rt.expectRule.s
		}
		t.rolesSet = rt.expectRolesSet
		t.approvals = rt.approvals
		if rt.approvLine > 0 && (!rt.actionOK || t.action.Kind != Enroll) {
			c.errorf(rt.approvLine, "%s expect_approvals: applies to enroll actions only", what)
		}
		seen := map[string]bool{}
		for _, r := range rt.expectRoles {
			if _, ok := c.p.roleIdx[r.s]; !ok {
				c.errorf(r.line, "%s expect_roles: undefined role %q%s", what, r.s, c.suggestRole(r.s))
			} else if seen[r.s] {
				c.errorf(r.line, "%s expect_roles: role %q listed twice", what, r.s)
			}
			seen[r.s] = true
			t.expectRoles = append(t.expectRoles, r.s)
		}
		c.p.tests = append(c.p.tests, t)
	}
}

// testIdentity validates a test's identity. Groups and principals the
// policy does not name are allowed (a test may show that they are
// ignored); expect_rule and expect_roles catch a typo that would make a
// deny test pass for the wrong reason.
func (c *compiler) testIdentity(rt *rawTest, what string) {
	if pr := rt.principal; pr.s != "" {
		if msg := principalProblem(pr.s); msg != "" {
			c.errorf(pr.line, "%s identity principal: %q %s", what, pr.s, msg)
		}
	}
	for _, g := range rt.groups {
		if _, ok := appendGroupKey(nil, g.s); !ok {
			c.errorf(g.line, "%s identity groups: %s", what, groupProblem(g.s))
		}
	}
}

// testAction validates a test's action: the fields its kind needs, and no
// others.
func (c *compiler) testAction(rt *rawTest, what string) Action {
	var a Action
	if rt.kind.line == 0 {
		c.errorf(rt.line, "%s action: kind missing", what)
		return a
	}
	k, err := ParseKind(rt.kind.s)
	if err != nil {
		c.errorf(rt.kind.line, "%s action kind: %q; want %s", what, rt.kind.s, kindList)
		return a
	}
	a.Kind = k
	fields := []struct {
		name string
		v    strAt
		dst  *string
		need bool
	}{
		{"service", rt.service, &a.Service, k == Serve || k == Request},
		{"command", rt.command, &a.Command, k == Request},
		{"topic", rt.topic, &a.Topic, k == Publish || k == Subscribe},
		{"target", rt.target, &a.Target, k == Enroll},
	}
	for _, f := range fields {
		switch {
		case f.need && f.v.line == 0:
			c.errorf(rt.kind.line, "%s action: %s needs %s", what, k, f.name)
		case !f.need && f.v.line > 0:
			c.errorf(f.v.line, "%s action: %s does not apply to %s", what, f.name, k)
		case f.need && f.name == "target":
			if msg := targetProblem(f.v.s); msg != "" {
				c.errorf(f.v.line, "%s action: %s", what, msg)
			}
			*f.dst = f.v.s
		case f.need:
			if msg := nameProblem(f.name, f.v.s); msg != "" {
				c.errorf(f.v.line, "%s action: %s", what, msg)
			}
			*f.dst = f.v.s
		}
	}
	if rt.source.line > 0 {
		if k != Connect {
			c.errorf(rt.source.line, "%s action: source does not apply to %s", what, k)
		} else if addr, err := parseSourceAddr(rt.source.s); err != nil {
			c.errorf(rt.source.line, "%s action source: %v", what, err)
		} else {
			a.Source = addr
		}
	}
	return a
}
