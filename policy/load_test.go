package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoaderErrorLines checks each kind of problem is reported at its exact
// line, with a message that says what is wrong.
func TestLoaderErrorLines(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // "line: substring", in order
	}{
		{"missing version", "roles: {}\n", []string{"1: version: missing"}},
		{"bad version", "version: 2\n", []string{`1: unsupported version "2"`}},
		{"string version", "version: \"1\"\n", []string{`1: unsupported version "1"`}},
		{"unknown top key", "version: 1\nrevison: x\n", []string{`2: policy: unknown key "revison"`}},
		{"duplicate top key", "version: 1\nroles: {}\nroles: {}\n", []string{`3: policy: duplicate key "roles" (first at line 2)`}},
		{"default allow", "version: 1\ndefault: allow\n", []string{`2: default: "allow" is not supported`}},
		{"duplicate role", "version: 1\nroles:\n  a: {serve: [x]}\n  a: {serve: [y]}\n", []string{`4: roles: duplicate key "a" (first at line 3)`}},
		{"unknown role key", "version: 1\nroles:\n  a:\n    serve: [x]\n    serves: [y]\n", []string{`5: role "a": unknown key "serves"`}},
		{"role not a mapping", "version: 1\nroles:\n  a: [x]\n", []string{`3: role "a": want a mapping`}},
		{"empty pattern", "version: 1\nroles:\n  a:\n    publish: [\"job.x\", \"\"]\n", []string{`4: role "a" publish: empty value`}},
		{"bad pattern", "version: 1\nroles:\n  a:\n    subscribe:\n      - job.x\n      - job..y\n", []string{`6: role "a" subscribe: "job..y": pattern has an empty segment`}},
		{"empty list", "version: 1\nroles:\n  a:\n    serve: []\n", []string{`4: role "a" serve: empty list`}},
		{"bad CIDR", "version: 1\nroles:\n  a:\n    connect:\n      from:\n        - 10.0.0.0/8\n        - 10.0.0.0/33\n", []string{`7: role "a" connect from: invalid CIDR prefix "10.0.0.0/33"`}},
		{"host bits", "version: 1\nroles:\n  a:\n    connect: {from: [\"10.1.2.3/16\"]}\n", []string{`4: role "a" connect from: "10.1.2.3/16" has host bits set; did you mean 10.1.0.0/16?`}},
		{"empty from", "version: 1\nroles:\n  a:\n    connect: {from: []}\n", []string{`4: role "a" connect from: empty list`}},
		{"short mapped prefix", "version: 1\nroles:\n  a:\n    connect: {from: [\"::ffff:0:0/90\"]}\n", []string{`4: role "a" connect from: "::ffff:0:0/90"`}},
		{"request without commands", "version: 1\nroles:\n  a:\n    request:\n      - service: proxy\n", []string{`5: role "a" request #1: commands missing`}},
		{"request service pattern", "version: 1\nroles:\n  a:\n    request:\n      - {service: \"pro*\", commands: [x]}\n", []string{`5: role "a" request #1 service: "pro*": '*' must be a whole segment`}},
		{"undefined role", "version: 1\nroles:\n  proxy: {serve: [proxy]}\nbindings:\n  - group: okta:x\n    roles:\n      - proxy\n      - repo\n", []string{`8: binding #1: undefined role "repo"`}},
		{"role case", "version: 1\nroles:\n  proxy: {serve: [proxy]}\nbindings:\n  - {group: okta:x, roles: [Proxy]}\n", []string{`5: binding #1: undefined role "Proxy" (did you mean "proxy"?)`}},
		{"binding without subject", "version: 1\nroles:\n  p: {serve: [x]}\nbindings:\n  - roles: [p]\n", []string{`5: binding #1: needs group: or principal:`}},
		{"binding with both", "version: 1\nroles:\n  p: {serve: [x]}\nbindings:\n  - {group: a, principal: b, roles: [p]}\n", []string{`5: binding #1: give either group: or principal:, not both`}},
		{"bad DN", "version: 1\nroles:\n  p: {serve: [x]}\nbindings:\n  - {group: \"CN=a,,DC=b\", roles: [p]}\n", []string{`5: binding #1 group: "CN=a,,DC=b" is not a valid distinguished name`}},
		{"principal whitespace", "version: 1\nroles:\n  p: {serve: [x]}\nbindings:\n  - {principal: \"X$ \", roles: [p]}\n", []string{`5: binding #1 principal: "X$ " has leading or trailing whitespace`}},
		{"deny unknown action", "version: 1\ndeny:\n  - group: okta:q\n    actions: [connect, delete]\n", []string{`4: deny rule #1 actions: unknown action "delete"`}},
		{"deny unknown key", "version: 1\ndeny:\n  - {group: okta:q, roles: [x]}\n", []string{`3: deny rule #1: unknown key "roles"`}},
		{"anchor and alias", "version: 1\nroles:\n  a: &r {serve: [x]}\n  b: *r\n", []string{"3: role \"a\": anchors (&r)", "4: role \"b\": aliases (*r)"}},
		{"merge key", "version: 1\nroles:\n  a:\n    <<: {serve: [x]}\n", []string{"4: role \"a\": merge keys (<<)"}},
		{"custom tag", "version: 1\nrevision: !secret x\n", []string{"2: revision: custom tag !secret"}},
		{"two documents", "version: 1\n---\nversion: 1\n", []string{"2: more than one YAML document"}},
		{"syntax", "version: 1\nroles: [a,\n", []string{"2: YAML syntax: did not find expected node content"}},
		{"empty", "", []string{"0: empty policy file"}},
		{"only comments", "# nothing yet\n", []string{"0: empty policy file"}},
		{"not a mapping", "- a\n", []string{"1: policy: want a mapping"}},
		{"test bad kind", "version: 1\ntests:\n  - name: t\n    identity: {}\n    action: {kind: delete}\n    expect: deny\n", []string{`5: test "t" action kind: "delete"`}},
		{"test missing field", "version: 1\ntests:\n  - name: t\n    identity: {}\n    action: {kind: request, service: x}\n    expect: deny\n", []string{`5: test "t" action: request needs command`}},
		{"test extra field", "version: 1\ntests:\n  - name: t\n    identity: {}\n    action: {kind: serve, service: x, command: y}\n    expect: deny\n", []string{`5: test "t" action: command does not apply to serve`}},
		{"test wildcard name", "version: 1\ntests:\n  - name: t\n    identity: {}\n    action: {kind: publish, topic: \"job.*\"}\n    expect: deny\n", []string{`5: test "t" action: topic contains '*'`}},
		{"test source", "version: 1\ntests:\n  - name: t\n    identity: {}\n    action: {kind: connect, source: 10.0.0.0/8}\n    expect: deny\n", []string{`5: test "t" action source: invalid IP address "10.0.0.0/8"`}},
		{"test expect", "version: 1\ntests:\n  - name: t\n    identity: {}\n    action: {kind: connect}\n    expect: denied\n", []string{`6: test "t" expect: "denied"; want allow or deny`}},
		{"test undefined rule", "version: 1\ntests:\n  - name: t\n    identity: {}\n    action: {kind: connect}\n    expect: deny\n    expect_rule: deny#1\n", []string{`7: test "t" expect_rule: no rule "deny#1"`}},
		{"test undefined role", "version: 1\ntests:\n  - name: t\n    identity: {}\n    action: {kind: connect}\n    expect: deny\n    expect_roles: [ghost]\n", []string{`7: test "t" expect_roles: undefined role "ghost"`}},
		{"test duplicate name", "version: 1\ntests:\n  - {name: t, identity: {}, action: {kind: connect}, expect: deny}\n  - {name: t, identity: {}, action: {kind: connect}, expect: deny}\n", []string{`4: test "t": duplicate test name (first at line 3)`}},
		{"test missing keys", "version: 1\ntests:\n  - name: t\n", []string{`3: test #1: identity missing`, `3: test #1: action missing`, `3: test #1: expect missing`}},
		{"test bad group", "version: 1\ntests:\n  - {name: t, identity: {groups: [\"okta:\"]}, action: {kind: connect}, expect: deny}\n", []string{`3: test "t" identity groups: "okta:": an Okta group needs a name`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := parseErrs(t, c.src)
			if len(errs) != len(c.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(c.want), joinLines(errs))
			}
			for i, w := range c.want {
				line, msg, _ := strings.Cut(w, ": ")
				got := errs[i]
				if got.File != "test.yaml" || !strings.Contains(got.Msg, msg) || fmt.Sprint(got.Line) != line {
					t.Errorf("error %d = %q; want line %s and %q", i, got.Error(), line, msg)
				}
			}
		})
	}
}

// TestLoaderReportsEverything checks that one run reports all problems of a
// file, sorted by line, rather than stopping at the first.
func TestLoaderReportsEverything(t *testing.T) {
	src := `version: 1
roles:
  proxy:
    serve: [""]
    publish: ["job..x"]
    connect: {from: [nonsense]}
  bad name:
    serve: [x]
bindings:
  - {group: okta:p, roles: [ghost]}
  - {roles: [proxy]}
deny:
  - {group: okta:q, actions: [fly]}
tests:
  - {name: t, identity: {}, action: {kind: connect}, expect: maybe}
extra: 1
`
	errs := parseErrs(t, src)
	wantLines := []int{4, 5, 6, 7, 10, 11, 13, 15, 16}
	if len(errs) != len(wantLines) {
		t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(wantLines), joinLines(errs))
	}
	for i, l := range wantLines {
		if errs[i].Line != l {
			t.Errorf("error %d at line %d, want %d:\n%s", i, errs[i].Line, l, joinLines(errs))
		}
	}
	if s := errs.Error(); strings.Count(s, "\n") != len(wantLines)-1 || !strings.HasPrefix(s, "test.yaml:4: ") {
		t.Errorf("Errors.Error() =\n%s", s)
	}
}

func TestWarnings(t *testing.T) {
	p := mustParse(t, "version: 1\nroles:\n  unused: {serve: [x]}\n  empty: {}\nbindings:\n  - {group: okta:x, roles: [empty]}\n")
	var got []string
	for _, w := range p.Warnings() {
		got = append(got, w.Error())
	}
	want := []string{`test.yaml:3: warning: role "unused" is not granted by any binding`, `test.yaml:4: warning: role "empty" grants nothing`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEmptySectionsAllowed(t *testing.T) {
	p := mustParse(t, "version: 1\nroles:\nbindings:\ndeny:\ntests:\n")
	if c := p.Counts(); c != (Counts{}) {
		t.Errorf("counts %+v", c)
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, LoadOptions{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Load = %v; want ErrTooLarge", err)
	}
	if _, err := Parse("big.yaml", make([]byte, MaxFileSize+1)); err == nil {
		t.Error("Parse accepted an oversized file")
	}
}

func TestLoadRunsTests(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	src := "version: 1\ntests:\n  - {name: wrong, identity: {}, action: {kind: connect}, expect: allow}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, LoadOptions{}); err != nil {
		t.Fatalf("Load without RunTests: %v", err)
	}
	_, err := Load(path, LoadOptions{RunTests: true})
	if !errors.Is(err, ErrTestsFailed) || !strings.Contains(err.Error(), `"wrong" (line 3)`) {
		t.Errorf("Load with RunTests = %v", err)
	}
	var errs Errors
	if _, err := Load(filepath.Join(dir, "missing.yaml"), LoadOptions{}); err == nil || errors.As(err, &errs) {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(path, []byte("version: 1\nx: 1\n"), 0o644)
	if _, err := Load(path, LoadOptions{}); !errors.As(err, &errs) || errs[0].Line != 2 {
		t.Errorf("invalid file: %v", err)
	}
}
