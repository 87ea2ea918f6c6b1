package policy

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The enroll permission lets a person bind a new node's CURVE key to a
// principal through the enrollment endpoint:
//
//	roles:
//	  enroller:
//	    enroll:
//	      - {principals: ["PROXY*$", "REPO*$"]}
//	      - {principals: ["svc-*@corp.example.com"], approvals: 2}
//
// The subject of an Enroll decision is the person (from the ID token or the
// directory), the action's Target the principal the key is to be bound to.
// Principal patterns are globs: '*' matches any run of characters, the
// empty run included; every other character matches itself, compared
// case-insensitively (Unicode simple folding, as principals are compared).
// A pattern must match the whole principal. approvals (1, the default, or
// 2) is how many distinct people must approve before the key is bound.

// maxPrincipal bounds a principal pattern and an enroll target.
const maxPrincipal = 256

// rawEnroll is one entry of an enroll: list as written.
type rawEnroll struct {
	line       int
	principals []strAt
	approvals  int // 0 when not given
	approvLine int
}

// enrollRule is one compiled entry of an enroll: list.
type enrollRule struct {
	principals []principalPattern
	rule       Rule
}

// principalPattern is a compiled principal glob: the folded pattern split
// at each '*'.
type principalPattern struct {
	text  string
	parts []string // len 1 for a literal
}

// compilePrincipalPattern validates and compiles a principal glob.
func compilePrincipalPattern(s string) (principalPattern, error) {
	switch {
	case s == "":
		return principalPattern{}, errors.New("empty pattern")
	case len(s) > maxPrincipal:
		return principalPattern{}, fmt.Errorf("pattern is longer than %d bytes", maxPrincipal)
	case trimSpace(s) != s:
		return principalPattern{}, errors.New("pattern has leading or trailing whitespace")
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return principalPattern{}, errors.New("pattern contains a control character or invalid UTF-8")
		}
	}
	folded := string(appendFold(nil, s))
	return principalPattern{text: s, parts: strings.Split(folded, "*")}, nil
}

// match reports whether the folded principal matches the glob.
func (p *principalPattern) match(folded string) bool {
	parts := p.parts
	if len(parts) == 1 {
		return folded == parts[0]
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(folded) < len(first)+len(last) || !strings.HasPrefix(folded, first) || !strings.HasSuffix(folded, last) {
		return false
	}
	rest := folded[len(first) : len(folded)-len(last)]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, mid)
		if i < 0 {
			return false
		}
		rest = rest[i+len(mid):]
	}
	return true
}

// sample returns a principal the glob matches, for diff: each '*'
// replaced by "{any}".
func (p *principalPattern) sample() string {
	return strings.ReplaceAll(p.text, "*", anySegment)
}

// targetProblem checks an Enroll action's target principal.
func targetProblem(s string) string {
	switch {
	case s == "":
		return "target principal is empty"
	case len(s) > maxPrincipal:
		return fmt.Sprintf("target principal is longer than %d bytes", maxPrincipal)
	case strings.IndexByte(s, '*') >= 0:
		return "target principal contains '*': principals are concrete, patterns belong in the policy"
	}
	if msg := principalProblem(s); msg != "" {
		return "target principal " + msg
	}
	return ""
}

// grantEnroll returns the entry that allows enrolling target with the most
// approvals (the first in list order among equals), or nil.
func grantEnroll(list []enrollRule, target string) *Rule {
	folded := string(appendFold(nil, target))
	var best *Rule
	for i := range list {
		for j := range list[i].principals {
			if list[i].principals[j].match(folded) {
				if best == nil || list[i].rule.Approvals > best.Approvals {
					best = &list[i].rule
				}
				break
			}
		}
	}
	return best
}

// enroll decodes an enroll: list of a role or deny rule.
func (d *decoder) enroll(p *rawPerms, v *yaml.Node, what string) {
	ok := d.sequence(v, what, func(i int, item *yaml.Node) {
		e := &rawEnroll{line: item.Line}
		w := fmt.Sprintf("%s #%d", what, i+1)
		d.mapping(item, w, []string{"principals", "approvals"}, func(key string, _, v *yaml.Node) {
			if key == "principals" {
				e.principals = d.strs(v, w+" principals", false)
				return
			}
			e.approvLine = v.Line
			if !d.node(v, w+" approvals") {
				return
			}
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || (v.Value != "1" && v.Value != "2") {
				d.errorf(v.Line, "%s approvals: %s; want 1 or 2 (distinct people who must approve)", w, describe(v))
				return
			}
			e.approvals = int(v.Value[0] - '0')
		})
		if item.Kind == yaml.MappingNode && !hasKey(item, "principals") {
			d.errorf(item.Line, "%s: principals missing", w)
		}
		p.enroll = append(p.enroll, e)
	})
	if ok && len(v.Content) == 0 {
		d.errorf(v.Line, "%s: empty list", what)
	}
}

// compileEnroll compiles an enroll: list. Approvals apply to roles only;
// a deny rule's entry names principals.
func (c *compiler) compileEnroll(raws []*rawEnroll, what string, grant bool, rule func(id, text string, line int) Rule) []enrollRule {
	var out []enrollRule
	for i, re := range raws {
		w := fmt.Sprintf("%s enroll #%d", what, i+1)
		er := enrollRule{}
		var names []string
		for _, s := range re.principals {
			pp, err := compilePrincipalPattern(s.s)
			if err != nil {
				c.errorf(s.line, "%s principals: %q: %v", w, s.s, err)
				continue
			}
			er.principals = append(er.principals, pp)
			names = append(names, s.s)
		}
		approvals := re.approvals
		if approvals != 0 && !grant {
			c.errorf(re.approvLine, "%s: approvals apply to roles only; a deny rule refuses the enrollment", w)
		}
		if approvals == 0 {
			approvals = 1
		}
		if len(er.principals) == 0 {
			continue
		}
		text := "principals " + strings.Join(names, ", ")
		if grant && approvals > 1 {
			text += fmt.Sprintf("; approvals %d", approvals)
		}
		er.rule = rule(fmt.Sprintf("enroll#%d", i+1), text, re.line)
		if grant {
			er.rule.Approvals = approvals
		}
		out = append(out, er)
	}
	return out
}
