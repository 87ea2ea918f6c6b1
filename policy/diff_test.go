package policy

import (
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	old := mustParse(t, `version: 1
revision: old
roles:
  proxy:
    connect: {}
    serve: [proxy]
    publish: ["job.status.*"]
bindings:
  - {group: okta:proxies, roles: [proxy]}
tests:
  - {name: p, identity: {principal: "P$", groups: [okta:proxies, okta:quarantine]}, action: {kind: serve, service: proxy}, expect: allow}
`)
	new := mustParse(t, `version: 1
revision: new
roles:
  proxy:
    connect: {from: ["10.30.0.0/16"]}
    serve: [proxy]
    publish: ["job.status.**"]
    request:
      - {service: repository, commands: [task.status]}
bindings:
  - {group: okta:proxies, roles: [proxy]}
  - {principal: "ADMIN$", roles: [proxy]}
deny:
  - {group: okta:quarantine}
`)
	r := Diff(old, new)
	if r.Old != "old" || r.New != "new" {
		t.Errorf("revisions %q %q", r.Old, r.New)
	}
	var got []string
	for _, c := range r.Decisions {
		got = append(got, c.Identity+" | "+c.Action.String()+" | "+c.Old.Outcome()+" -> "+c.New.Outcome())
	}
	for _, want := range []string{
		`group "okta:proxies" | connect from an unknown source | allow -> deny`,
		`group "okta:proxies" | connect from 192.0.2.1 | allow -> deny`,
		`group "okta:proxies" | publish topic "job.status.{any}.{any}" | deny -> allow`,
		`group "okta:proxies" | request service "repository" command "task.status" | deny -> allow`,
		`principal "ADMIN$" | serve service "proxy" | deny -> allow`,
		`identity of test "p" | serve service "proxy" | allow -> deny`,
	} {
		if !contains(got, want) {
			t.Errorf("missing change %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, g := range got {
		if strings.HasPrefix(g, `group "okta:proxies"`) && (strings.Contains(g, `"job.status.{any}" |`) || strings.Contains(g, "10.30.0.0 |")) {
			t.Errorf("unchanged decision reported: %s", g)
		}
	}
	if len(r.Roles) != 1 || r.Roles[0].Identity != `principal "ADMIN$"` || len(r.Roles[0].New) != 1 {
		t.Errorf("role changes %+v", r.Roles)
	}
	var b strings.Builder
	r.WriteText(&b)
	for _, want := range []string{"revision old -> new", `principal "ADMIN$": [] -> [proxy]`,
		`    deny -> ALLOW  serve service "proxy"  [default-deny -> role:proxy:serve#1, line 6]`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("diff text lacks %q:\n%s", want, b.String())
		}
	}
	if same := Diff(old, old); len(same.Decisions) != 0 || len(same.Roles) != 0 {
		t.Errorf("a policy differs from itself: %+v", same)
	}
	b.Reset()
	Diff(old, old).WriteText(&b)
	if !strings.Contains(b.String(), "no decision changes") {
		t.Errorf("%s", b.String())
	}
}

// TestDiffEnrollApprovals: an enrollment that stays allowed but needs a
// second approval is a change a reviewer must see.
func TestDiffEnrollApprovals(t *testing.T) {
	doc := func(rev, approvals string) string {
		return `version: 1
revision: ` + rev + `
roles:
  enroller:
    enroll:
      - {principals: ["PROXY*$"]}
      - {principals: ["svc-*@corp.example.com"]` + approvals + `}
bindings:
  - {group: okta:admins, roles: [enroller]}
`
	}
	old, new := mustParse(t, doc("old", "")), mustParse(t, doc("new", ", approvals: 2"))
	r := Diff(old, new)
	if len(r.Decisions) != 1 {
		t.Fatalf("got %d changes, want 1: %+v", len(r.Decisions), r.Decisions)
	}
	c := r.Decisions[0]
	if c.Action.Kind != Enroll || !strings.HasPrefix(strings.ToLower(c.Action.Target), "svc-") || c.New.Rule.Approvals != 2 {
		t.Fatalf("change = %+v", c)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "allow -> ALLOW (2 approvals)") {
		t.Errorf("text does not show the approvals:\n%s", b.String())
	}
	if r := Diff(old, old); len(r.Decisions) != 0 {
		t.Errorf("no change reported %+v", r.Decisions)
	}
}
