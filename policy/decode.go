package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a policy file; larger files are refused unread.
const MaxFileSize = 4 << 20

// rawPolicy is a policy file as written, with lines, before validation.
type rawPolicy struct {
	version     strAt
	revision    strAt
	description string
	roles       []*rawRole
	bindings    []*rawBinding
	deny        []*rawDeny
	tests       []*rawTest
}

type rawRole struct {
	name        strAt
	description string
	perms       rawPerms
}

// rawPerms are the permission lists of a role, or the scope of a deny rule.
type rawPerms struct {
	connect   *rawConnect
	serve     []strAt
	request   []*rawRequest
	publish   []strAt
	subscribe []strAt
	enroll    []*rawEnroll
	actions   []strAt // deny rules only
}

type rawConnect struct {
	line int
	from []strAt // nil: any source
}

type rawRequest struct {
	line     int
	service  strAt
	commands []strAt
}

// rawSubject is the group or principal a binding or deny rule names.
type rawSubject struct {
	group, principal strAt
	keys             int // how many of group: and principal: were given
}

type rawBinding struct {
	line        int
	ok          bool // false when the entry was not a usable mapping
	subject     rawSubject
	roles       []strAt
	description string
}

type rawDeny struct {
	line    int
	ok      bool // false when the entry was not a usable mapping
	subject rawSubject
	scope   rawPerms
	reason  string
}

type rawTest struct {
	line                     int
	name                     strAt
	principal                strAt
	groups                   []strAt
	kind                     strAt
	service, command, topic  strAt
	source, target           strAt
	expect, expectRule       strAt
	approvals, approvLine    int
	expectRoles              []strAt
	expectRolesSet, actionOK bool
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// decodeRaw parses data as one YAML document and decodes it strictly.
func decodeRaw(name string, data []byte) (*rawPolicy, Errors) {
	d := &decoder{file: name}
	if len(data) > MaxFileSize {
		d.errorf(0, "%d bytes; policy files are limited to %d", len(data), MaxFileSize)
		return nil, d.errs
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(0, "empty policy file; it must start with version: 1")
		} else {
			d.syntax(err)
		}
		return nil, d.errs
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(extra.Line, "more than one YAML document; a policy file holds one")
	} else if !errors.Is(err, io.EOF) {
		d.syntax(err)
	}
	raw := &rawPolicy{}
	if len(doc.Content) == 0 {
		d.errorf(0, "empty policy file; it must start with version: 1")
		return nil, d.errs
	}
	root := doc.Content[0]
	known := []string{"version", "revision", "default", "description", "roles", "bindings", "deny", "tests"}
	d.mapping(root, "policy", known, func(key string, k, v *yaml.Node) {
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && key != "version" && key != "revision" && key != "default" {
			return // an empty section, e.g. every test commented out
		}
		switch key {
		case "version":
			raw.version = strAt{"?", v.Line}
			if v.Kind == yaml.ScalarNode && v.Tag == "!!int" && v.Value == "1" {
				raw.version.s = "1"
			} else {
				d.errorf(v.Line, "version: unsupported version %s; this zapgate reads version: 1", describe(v))
			}
		case "revision":
			raw.revision, _ = d.str(v, "revision")
		case "default":
			if s, ok := d.str(v, "default"); ok && s.s != "deny" {
				d.errorf(s.line, "default: %q is not supported; the only default is deny", s.s)
			}
		case "description":
			raw.description = d.optStr(v, "description")
		case "roles":
			d.mapping(v, "roles", nil, func(name string, k, rv *yaml.Node) {
				r := &rawRole{name: strAt{name, k.Line}}
				what := fmt.Sprintf("role %q", name)
				d.mapping(rv, what, []string{"description", "connect", "serve", "request", "publish", "subscribe", "enroll"},
					func(key string, _, v *yaml.Node) {
						if key == "description" {
							r.description = d.optStr(v, what+" description")
							return
						}
						d.perm(&r.perms, key, v, what)
					})
				raw.roles = append(raw.roles, r)
			})
		case "bindings":
			d.sequence(v, "bindings", func(i int, item *yaml.Node) {
				raw.bindings = append(raw.bindings, d.binding(i, item))
			})
		case "deny":
			d.sequence(v, "deny", func(i int, item *yaml.Node) {
				raw.deny = append(raw.deny, d.denyRule(i, item))
			})
		case "tests":
			d.sequence(v, "tests", func(i int, item *yaml.Node) {
				raw.tests = append(raw.tests, d.test(i, item))
			})
		}
	})
	if raw.version.s == "" && root.Kind == yaml.MappingNode {
		d.errorf(root.Line, "version: missing; a policy file must declare version: 1")
	}
	return raw, d.errs
}

// syntax reports a YAML parser error at its line.
func (d *decoder) syntax(err error) {
	msg, line := err.Error(), 0
	if sub := yamlLineRE.FindStringSubmatch(msg); sub != nil {
		line, _ = strconv.Atoi(sub[1])
		msg = sub[2]
	}
	d.errorf(line, "YAML syntax: %s", msg)
}

// optStr returns an optional free-text value ("" when empty).
func (d *decoder) optStr(n *yaml.Node, what string) string {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "") {
		return ""
	}
	s, _ := d.str(n, what)
	return s.s
}

// perm decodes one permission list (key) of a role or deny rule into p.
func (d *decoder) perm(p *rawPerms, key string, v *yaml.Node, what string) {
	what += " " + key
	switch key {
	case "connect":
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			d.errorf(v.Line, "%s: empty; write connect: {} to allow any source, or connect: {from: [CIDR, ...]}", what)
			return
		}
		c := &rawConnect{line: v.Line}
		if d.mapping(v, what, []string{"from"}, func(_ string, _, fv *yaml.Node) {
			c.from = d.strs(fv, what+" from", false)
			if c.from == nil {
				c.from = []strAt{} // present but unusable: not "any source"
			}
		}) {
			p.connect = c
		}
	case "serve":
		p.serve = d.strs(v, what, false)
	case "publish":
		p.publish = d.strs(v, what, false)
	case "subscribe":
		p.subscribe = d.strs(v, what, false)
	case "actions":
		p.actions = d.strs(v, what, false)
	case "enroll":
		d.enroll(p, v, what)
	case "request":
		ok := d.sequence(v, what, func(i int, item *yaml.Node) {
			rq := &rawRequest{line: item.Line}
			w := fmt.Sprintf("%s #%d", what, i+1)
			d.mapping(item, w, []string{"service", "commands"}, func(key string, _, v *yaml.Node) {
				if key == "service" {
					rq.service, _ = d.str(v, w+" service")
				} else {
					rq.commands = d.strs(v, w+" commands", false)
				}
			})
			if item.Kind == yaml.MappingNode && !hasKey(item, "service") {
				d.errorf(item.Line, "%s: service missing", w)
			}
			if item.Kind == yaml.MappingNode && !hasKey(item, "commands") {
				d.errorf(item.Line, "%s: commands missing", w)
			}
			p.request = append(p.request, rq)
		})
		if ok && len(v.Content) == 0 {
			d.errorf(v.Line, "%s: empty list", what)
		}
	}
}

// subject decodes the group: or principal: key of a binding or deny rule.
func (d *decoder) subject(s *rawSubject, key string, v *yaml.Node, what string) {
	s.keys++
	if key == "group" {
		s.group, _ = d.str(v, what+" group")
	} else {
		s.principal, _ = d.str(v, what+" principal")
	}
}

func (d *decoder) binding(i int, n *yaml.Node) *rawBinding {
	b := &rawBinding{line: n.Line}
	what := fmt.Sprintf("binding #%d", i+1)
	b.ok = d.mapping(n, what, []string{"group", "principal", "roles", "description"}, func(key string, _, v *yaml.Node) {
		switch key {
		case "group", "principal":
			d.subject(&b.subject, key, v, what)
		case "roles":
			b.roles = d.strs(v, what+" roles", false)
		case "description":
			b.description = d.optStr(v, what+" description")
		}
	})
	if b.ok && !hasKey(n, "roles") {
		d.errorf(n.Line, "%s: roles missing", what)
	}
	return b
}

func (d *decoder) denyRule(i int, n *yaml.Node) *rawDeny {
	r := &rawDeny{line: n.Line}
	what := fmt.Sprintf("deny rule #%d", i+1)
	known := []string{"group", "principal", "reason", "actions", "connect", "serve", "request", "publish", "subscribe", "enroll"}
	r.ok = d.mapping(n, what, known, func(key string, _, v *yaml.Node) {
		switch key {
		case "group", "principal":
			d.subject(&r.subject, key, v, what)
		case "reason":
			r.reason = d.optStr(v, what+" reason")
		default:
			d.perm(&r.scope, key, v, what)
		}
	})
	return r
}

// hasKey reports whether the mapping n has key.
func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}
