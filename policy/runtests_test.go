package policy

import (
	"os"
	"strings"
	"testing"
)

const testsFixture = fixture + `tests:
  - name: operator starts tasks
    identity: {groups: ["` + ops + `"]}
    action: {kind: request, service: proxy, command: task.start}
    expect: allow
    expect_rule: role:operator:request#1
    expect_roles: [operator]
  - name: wrong outcome
    identity: {groups: ["` + ops + `"]}
    action: {kind: request, service: proxy, command: task.x.y}
    expect: allow
  - name: wrong rule
    identity: {groups: ["` + ops + `", "` + quarantine + `"]}
    action: {kind: connect, source: 10.20.0.1}
    expect: deny
    expect_rule: default-deny
  - name: wrong roles
    identity: {principal: "PROXY01$"}
    action: {kind: serve, service: proxy}
    expect: allow
    expect_roles: [worker, reader]
  - name: no roles expected
    identity: {groups: [nobody]}
    action: {kind: connect}
    expect: deny
    expect_roles: []
`

func TestRunTests(t *testing.T) {
	p := mustParse(t, testsFixture)
	results, err := RunTests(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"operator starts tasks": "",
		"wrong outcome":         "expected allow, got deny by default-deny",
		"wrong rule":            "expected rule default-deny, got deny#1",
		"wrong roles":           "expected roles [worker, reader], got [worker]",
		"no roles expected":     "",
	}
	if len(results) != len(want) {
		t.Fatalf("%d results", len(results))
	}
	for _, r := range results {
		if r.Failure != want[r.Name] || r.Pass != (want[r.Name] == "") {
			t.Errorf("%s: pass %v failure %q; want %q", r.Name, r.Pass, r.Failure, want[r.Name])
		}
	}
	if results[0].Line != 29 || results[0].Expect != "allow" || results[0].ExpectRule != "role:operator:request#1" {
		t.Errorf("result 0: %+v", results[0])
	}
	if err := checkTests(p); err == nil || !strings.Contains(err.Error(), "3 of 5 failed") {
		t.Errorf("checkTests = %v", err)
	}
}

func TestRunTestsFilter(t *testing.T) {
	p := mustParse(t, testsFixture)
	results, err := RunTests(p, []string{"wrong*", "operator starts tasks"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range results {
		names = append(names, r.Name)
	}
	if strings.Join(names, "|") != "operator starts tasks|wrong outcome|wrong rule|wrong roles" {
		t.Errorf("selected %q", names)
	}
	if _, err := RunTests(p, []string{"no such test"}); err == nil || !strings.Contains(err.Error(), `no test named "no such test"`) {
		t.Errorf("unknown filter: %v", err)
	}
	if got := p.TestNames(); len(got) != 5 || got[4] != "no roles expected" {
		t.Errorf("TestNames = %q", got)
	}
}

// TestExamplePolicy keeps examples/policy.yaml valid, warning-free and
// passing its own tests.
func TestExamplePolicy(t *testing.T) {
	data, err := os.ReadFile("../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("examples/policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Warnings(); len(w) > 0 {
		t.Errorf("warnings: %v", w)
	}
	if err := checkTests(p); err != nil {
		t.Error(err)
	}
	if c := p.Counts(); c.Tests < 10 || c.Deny < 3 || c.Roles < 4 {
		t.Errorf("example is thin: %+v", c)
	}
}
