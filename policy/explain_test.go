package policy

import (
	"strings"
	"testing"
)

func explainText(t *testing.T, p *Policy, s Subject, a Action) string {
	t.Helper()
	var b strings.Builder
	if err := p.Explain(s, a).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExplainDenyWins(t *testing.T) {
	p := mustParse(t, fixture)
	s := Subject{Principal: "OPS1$", Groups: []string{ops, quarantine, "okta:unknown", "CN=bad,,DC=x"}}
	e := p.Explain(s, req("proxy", "task.start"))
	if d := p.Decide(s, req("proxy", "task.start")); e.Decision.Rule != d.Rule || e.Decision.Allow || d.Rule.ID != "deny#1" {
		t.Fatalf("explain decided %+v", e.Decision)
	}
	if len(e.Inputs) != 5 || !e.Inputs[4].Invalid || len(e.Inputs[1].Bindings) != 1 || e.Inputs[2].DenyRules[0] != "deny#1" {
		t.Errorf("inputs %+v", e.Inputs)
	}
	if len(e.Grants) != 1 || e.Grants[0].ID != "role:operator:request#1" {
		t.Errorf("grants %+v", e.Grants)
	}
	text := explainText(t, p, s, req("proxy", "task.start"))
	for _, want := range []string{
		"decision: DENY",
		`principal "OPS1$": not named by this policy; ignored`,
		`group "` + ops + `": binding #1 (line 18) grants role operator`,
		`group "` + quarantine + `": named by deny#1`,
		`group "okta:unknown": not named by this policy; ignored`,
		`group "CN=bad,,DC=x": not a valid group name; ignored`,
		"roles: operator",
		`deny#1 (line 23) names group "` + quarantine + `" and covers every action (reason: incident): it applies.`,
		"role operator allows it: role:operator:request#1 (line 12): service proxy, commands task.*.",
		"denied by deny#1: deny rules win over every grant.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explain output lacks %q:\n%s", want, text)
		}
	}
}

func TestExplainOtherOutcomes(t *testing.T) {
	p := mustParse(t, fixture)
	cases := []struct {
		s    Subject
		a    Action
		want []string
	}{
		{groups(ops, "okta:no-delete"), req("proxy", "task.status"), []string{
			"decision: ALLOW",
			"deny#2 (line 24) names group \"okta:no-delete\" but covers only request service *, commands repo.delete: it does not apply.",
			"role operator allows it: role:operator:request#1",
			"role operator allows it: role:operator:request#2",
			"allowed by role:operator:request#1, the first grant in file order.",
		}},
		{groups(ops), req("repository", "task.start"), []string{
			"no deny rule names this identity.",
			`none of the roles operator allows request service "repository" command "task.start"; anything not allowed is denied (default deny).`,
		}},
		{Subject{}, connectFrom("10.0.0.1"), []string{"(no principal and no groups)", "roles: none", "the identity has no roles"}},
		{groups(ops), req("proxy", "task.*"), []string{"decision: DENY", "the action is malformed (command contains '*'"}},
		{groups(quarantine), connectFrom(""), []string{"denied by deny#1 (no role would have allowed it either)."}},
	}
	for _, c := range cases {
		text := explainText(t, p, c.s, c.a)
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("explain %v %v lacks %q:\n%s", c.s, c.a, w, text)
			}
		}
	}
	var none *Policy
	if text := explainText(t, none, groups(ops), connectFrom("")); !strings.Contains(text, "no policy is loaded") {
		t.Errorf("nil policy:\n%s", text)
	}
}
