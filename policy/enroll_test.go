package policy

import (
	"strings"
	"testing"
)

const enrollFixture = `version: 1
revision: enroll-test
roles:
  enroller:
    enroll:
      - {principals: ["PROXY*$", "REPO*$"]}
      - {principals: ["svc-*@corp.example.com"], approvals: 2}
  node-admin:
    enroll: [{principals: ["*"], approvals: 2}]
bindings:
  - {group: "okta:backup-admins", roles: [enroller]}
  - {principal: "root@corp.example.com", roles: [node-admin]}
deny:
  - {group: "okta:contractors", actions: [enroll], reason: contractors never enroll}
  - {group: "okta:backup-admins", enroll: [{principals: ["DC*$"]}], reason: domain controllers are not nodes}
tests:
  - name: admin enrolls a proxy
    identity: {principal: alice@corp.example.com, groups: ["okta:backup-admins"]}
    action: {kind: enroll, target: "PROXY01$"}
    expect: allow
    expect_rule: role:enroller:enroll#1
    expect_approvals: 1
  - name: service accounts need two
    identity: {groups: ["okta:backup-admins"]}
    action: {kind: enroll, target: "svc-backup@corp.example.com"}
    expect: allow
    expect_approvals: 2
`

func enroll(target string) Action { return Action{Kind: Enroll, Target: target} }

func TestEnrollDecide(t *testing.T) {
	p := mustParse(t, enrollFixture)
	admin := Subject{Principal: "alice@corp.example.com", Groups: []string{"okta:backup-admins"}}
	cases := []struct {
		name      string
		subject   Subject
		target    string
		allow     bool
		rule      string
		approvals int
	}{
		{"proxy", admin, "PROXY01$", true, "role:enroller:enroll#1", 1},
		{"case-insensitive", admin, "proxy01$", true, "role:enroller:enroll#1", 1},
		{"star matches empty", admin, "PROXY$", true, "role:enroller:enroll#1", 1},
		{"second pattern", admin, "REPO7$", true, "role:enroller:enroll#1", 1},
		{"whole principal", admin, "XPROXY01$", false, "default-deny", 0},
		{"suffix must match", admin, "PROXY01", false, "default-deny", 0},
		{"two approvals", admin, "svc-backup@corp.example.com", true, "role:enroller:enroll#2", 2},
		{"deny scope wins", admin, "DC01$", false, "deny#2", 0},
		{"no roles", Subject{Principal: "bob@corp.example.com"}, "PROXY01$", false, "default-deny", 0},
		{"deny by actions", Subject{Groups: []string{"okta:backup-admins", "okta:contractors"}}, "PROXY01$", false, "deny#1", 0},
		{"principal binding", Subject{Principal: "ROOT@corp.example.com"}, "anything", true, "role:node-admin:enroll#1", 2},
		{"empty target", admin, "", false, "invalid-action", 0},
		{"wildcard target", admin, "PROXY*$", false, "invalid-action", 0},
		{"control character", admin, "PROXY\n$", false, "invalid-action", 0},
		{"too long", admin, "PROXY" + strings.Repeat("x", 300) + "$", false, "invalid-action", 0},
	}
	for _, c := range cases {
		d := p.Decide(c.subject, enroll(c.target))
		if d.Allow != c.allow || d.Rule.ID != c.rule || d.Rule.Approvals != c.approvals {
			t.Errorf("%s: %s approvals %d; want allow=%v rule %s approvals %d", c.name, d, d.Rule.Approvals, c.allow, c.rule, c.approvals)
		}
	}
	// An enroll grant grants nothing else, and other grants do not grant enroll.
	if d := p.Decide(admin, req("proxy", "task.start")); d.Allow {
		t.Errorf("enroller may request: %s", d)
	}
	results, err := RunTests(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("embedded test %q: %s", r.Name, r.Failure)
		}
	}
}

func TestEnrollRuleText(t *testing.T) {
	p := mustParse(t, enrollFixture)
	r, ok := p.Rule("role:enroller:enroll#2")
	if !ok || r.Text != "principals svc-*@corp.example.com; approvals 2" || r.Line != 7 || r.Approvals != 2 {
		t.Errorf("rule = %+v", r)
	}
	d, _ := p.Rule("deny#2")
	if d.Text != "enroll principals DC*$" {
		t.Errorf("deny#2 text = %q", d.Text)
	}
	if k, err := ParseKind("enroll"); err != nil || k != Enroll || k.String() != "enroll" {
		t.Errorf("ParseKind(enroll) = %v, %v", k, err)
	}
	if s := enroll("PROXY01$").String(); s != `enroll principal "PROXY01$"` {
		t.Errorf("String = %s", s)
	}
}

func TestEnrollExpectApprovalsFails(t *testing.T) {
	src := strings.Replace(enrollFixture, "    expect_approvals: 2\n", "    expect_approvals: 1\n", 1)
	p := mustParse(t, src)
	results, _ := RunTests(p, []string{"service accounts need two"})
	if len(results) != 1 || results[0].Pass || results[0].Failure != "expected 1 approvals, got 2" {
		t.Errorf("results = %+v", results)
	}
}

func TestEnrollParseErrors(t *testing.T) {
	head := "version: 1\nroles:\n  r:\n"
	cases := []struct{ src, want string }{
		{head + "    enroll: [{principals: [\"A*\"], approvals: 3}]\n", `test.yaml:4: role "r" enroll #1 approvals: "3"; want 1 or 2`},
		{head + "    enroll: [{principals: [\"A*\"], approvals: two}]\n", `want 1 or 2`},
		{head + "    enroll: [{approvals: 2}]\n", `role "r" enroll #1: principals missing`},
		{head + "    enroll: []\n", `role "r" enroll: empty list`},
		{head + "    enroll: [{principals: [\" A\"]}]\n", `pattern has leading or trailing whitespace`},
		{head + "    enroll: [{principals: [\"A\"], who: x}]\n", `unknown key "who"`},
		{"version: 1\ndeny:\n  - {group: g, enroll: [{principals: [\"*\"], approvals: 2}]}\n", `approvals apply to roles only`},
		{"version: 1\ntests:\n  - {name: t, identity: {}, action: {kind: enroll}, expect: deny}\n", `enroll needs target`},
		{"version: 1\ntests:\n  - {name: t, identity: {}, action: {kind: serve, service: s, target: X}, expect: deny}\n", `target does not apply to serve`},
		{"version: 1\ntests:\n  - {name: t, identity: {}, action: {kind: serve, service: s}, expect: deny, expect_approvals: 2}\n", `expect_approvals: applies to enroll actions only`},
		{"version: 1\ntests:\n  - {name: t, identity: {}, action: {kind: enroll, target: \"A*\"}, expect: deny}\n", `contains '*'`},
		{"version: 1\ndeny:\n  - {group: g, actions: [enrol]}\n", `unknown action "enrol" (want connect, serve, request, publish, subscribe or enroll)`},
	}
	for _, c := range cases {
		errs := parseErrs(t, c.src)
		if got := joinLines(errs); !strings.Contains(got, c.want) {
			t.Errorf("%q:\n%s\nwant %q", c.src, got, c.want)
		}
	}
}

func TestEnrollExplainAndDiff(t *testing.T) {
	p := mustParse(t, enrollFixture)
	var b strings.Builder
	if err := p.Explain(Subject{Groups: []string{"okta:backup-admins"}}, enroll("svc-x@corp.example.com")).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"decision: ALLOW", `action:   enroll principal "svc-x@corp.example.com"`,
		"role enroller allows it: role:enroller:enroll#2", "needs 2 distinct approvers"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, b.String())
		}
	}
	narrower := strings.Replace(enrollFixture, `["PROXY*$", "REPO*$"]`, `["PROXY*$"]`, 1)
	r := Diff(p, mustParse(t, narrower))
	found := false
	for _, c := range r.Decisions {
		if c.Action.Kind == Enroll && c.Action.Target == "REPO{any}$" && c.Old.Allow && !c.New.Allow {
			found = true
		}
	}
	if !found {
		t.Errorf("diff misses the enroll change: %+v", r.Decisions)
	}
}

func TestPrincipalPatternMatch(t *testing.T) {
	cases := []struct {
		pat, name string
		want      bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"**", "x", true},
		{"ÄB*", "äbc", true},
		{"PROXY01$", "proxy01$", true},
		{"PROXY01$", "proxy01$x", false},
	}
	for _, c := range cases {
		pp, err := compilePrincipalPattern(c.pat)
		if err != nil {
			t.Fatalf("%q: %v", c.pat, err)
		}
		if got := pp.match(string(appendFold(nil, c.name))); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pat, c.name, got, c.want)
		}
	}
}

// FuzzPrincipalPattern checks that compiling a principal glob never
// panics, that a pattern matches the text it was written as (with each
// '*' standing for nothing) and that matching ignores ASCII case.
func FuzzPrincipalPattern(f *testing.F) {
	for _, s := range []string{"PROXY*$", "*", "a*b*c", "svc-*@corp.example.com", "ÄB*", "**"} {
		f.Add(s, "proxy01$")
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		pp, err := compilePrincipalPattern(pat)
		if err != nil {
			return
		}
		literal := strings.ReplaceAll(pat, "*", "")
		if !pp.match(string(appendFold(nil, literal))) {
			t.Fatalf("%q does not match %q", pat, literal)
		}
		swapped := []byte(name)
		for i, c := range swapped {
			switch {
			case 'a' <= c && c <= 'z':
				swapped[i] = c - 32
			case 'A' <= c && c <= 'Z':
				swapped[i] = c + 32
			}
		}
		if pp.match(string(appendFold(nil, name))) != pp.match(string(appendFold(nil, string(swapped)))) {
			t.Fatalf("%q: ASCII case changes the match of %q", pat, name)
		}
	})
}

// TestEnrollStrictestGrantDecides: when two roles (or two entries) grant
// the same principal, the one that needs more approvals decides, whatever
// the file order; a role cannot lower another's requirement.
func TestEnrollStrictestGrantDecides(t *testing.T) {
	p := mustParse(t, `version: 1
revision: r
roles:
  lenient:
    enroll: [{principals: ["SVC-*"]}]
  strict:
    enroll:
      - {principals: ["PROXY*$"]}
      - {principals: ["svc-backup*"], approvals: 2}
bindings:
  - {group: okta:a, roles: [lenient]}
  - {group: okta:b, roles: [strict]}
`)
	decide := func(groups []string, target string) Decision {
		return p.Decide(Subject{Principal: "alice@corp", Groups: groups}, Action{Kind: Enroll, Target: target})
	}
	for _, tc := range []struct {
		groups    []string
		target    string
		allow     bool
		approvals int
	}{
		{[]string{"okta:a"}, "svc-backup01", true, 1},
		{[]string{"okta:a", "okta:b"}, "svc-backup01", true, 2},
		{[]string{"okta:b", "okta:a"}, "SVC-BACKUP01", true, 2},
		{[]string{"okta:a", "okta:b"}, "svc-other", true, 1},
		{[]string{"okta:b"}, "PROXY01$", true, 1},
		{[]string{"okta:a"}, "PROXY01$", false, 0},
	} {
		d := decide(tc.groups, tc.target)
		if d.Allow != tc.allow || (d.Allow && d.Rule.Approvals != tc.approvals) {
			t.Errorf("%v enroll %s: allow %v approvals %d (%s), want %v %d", tc.groups, tc.target, d.Allow, d.Rule.Approvals, d.Rule.ID, tc.allow, tc.approvals)
		}
	}
}
