package policy

import (
	"net/netip"
	"strings"
	"testing"
)

const fixture = `version: 1
revision: r1
roles:
  reader:
    connect: {}
    subscribe: ["job.**"]
    request:
      - {service: repository, commands: [task.status]}
  operator:
    connect: {from: ["10.20.0.0/16", "2001:db8:20::/48", "192.0.2.7"]}
    request:
      - {service: proxy, commands: ["task.*"]}
      - {service: "*", commands: [task.status]}
  worker:
    serve: [proxy, "repo.*"]
    publish: ["job.status.*"]
bindings:
  - {group: "CN=Ops,OU=Groups,DC=corp,DC=example,DC=com", roles: [operator]}
  - {group: "okta:readers", roles: [reader]}
  - {group: "workers", roles: [worker]}
  - {principal: "PROXY01$", roles: [worker]}
deny:
  - {group: "CN=Quarantine,OU=Groups,DC=corp,DC=example,DC=com", reason: incident}
  - {group: "okta:no-delete", request: [{service: "*", commands: [repo.delete]}]}
  - {principal: "OLD$", actions: [connect, serve]}
  - {group: "okta:guest-net", connect: {from: ["10.99.0.0/16"]}}
  - {group: "okta:readers", subscribe: ["job.secret.**"]}
`

const (
	ops        = "CN=Ops,OU=Groups,DC=corp,DC=example,DC=com"
	quarantine = "CN=Quarantine,OU=Groups,DC=corp,DC=example,DC=com"
)

func connectFrom(ip string) Action {
	a := Action{Kind: Connect}
	if ip != "" {
		a.Source = netip.MustParseAddr(ip)
	}
	return a
}

func TestDecide(t *testing.T) {
	p := mustParse(t, fixture)
	cases := []struct {
		name    string
		subject Subject
		action  Action
		allow   bool
		rule    string
		roles   string
	}{
		// Grants and the default deny.
		{"operator starts a task", groups(ops), req("proxy", "task.start"), true, "role:operator:request#1", "operator"},
		{"first entry in order wins", groups(ops), req("proxy", "task.status"), true, "role:operator:request#1", "operator"},
		{"wildcard service", groups(ops), req("repository", "task.status"), true, "role:operator:request#2", "operator"},
		{"task.* is one segment", groups(ops), req("proxy", "task.a.b"), false, "default-deny", "operator"},
		{"task.* does not match task", groups(ops), req("proxy", "task"), false, "default-deny", "operator"},
		{"command of another service", groups(ops), req("repository", "task.start"), false, "default-deny", "operator"},
		{"no roles", Subject{Principal: "NOBODY$"}, req("proxy", "task.start"), false, "default-deny", ""},
		{"empty subject", Subject{}, connectFrom("10.20.0.1"), false, "default-deny", ""},
		{"worker serves", groups("workers"), Action{Kind: Serve, Service: "proxy"}, true, "role:worker:serve#1", "worker"},
		{"worker serves repo.x", groups("workers"), Action{Kind: Serve, Service: "repo.main"}, true, "role:worker:serve#2", "worker"},
		{"worker cannot serve repo", groups("workers"), Action{Kind: Serve, Service: "repo"}, false, "default-deny", "worker"},
		{"worker publishes", groups("workers"), Action{Kind: Publish, Topic: "job.status.P1"}, true, "role:worker:publish#1", "worker"},
		{"publish is not subscribe", groups("workers"), Action{Kind: Subscribe, Topic: "job.status.P1"}, false, "default-deny", "worker"},
		{"worker has no connect", groups("workers"), connectFrom("10.20.0.1"), false, "default-deny", "worker"},
		{"principal binding", Subject{Principal: "proxy01$"}, Action{Kind: Serve, Service: "proxy"}, true, "role:worker:serve#1", "worker"},
		{"roles merge across bindings", Subject{Principal: "PROXY01$", Groups: []string{"okta:readers", ops}}, req("proxy", "task.start"), true, "role:operator:request#1", "reader operator worker"},

		// Case-insensitive DNs and unknown groups.
		{"DN in another case and spacing", groups("cn=ops, ou=groups, dc=CORP, dc=example, dc=com"), req("proxy", "task.start"), true, "role:operator:request#1", "operator"},
		{"unknown groups ignored", groups("CN=Domain Users,DC=corp", "okta:whatever", "nope", ops), req("proxy", "task.start"), true, "role:operator:request#1", "operator"},
		{"malformed group ignored", groups("CN=Ops,,DC=x", "okta:"), req("proxy", "task.start"), false, "default-deny", ""},
		{"okta case-insensitive", groups("OKTA:Readers"), Action{Kind: Subscribe, Topic: "job.status.x"}, true, "role:reader:subscribe#1", "reader"},
		{"plain name is not okta", groups("readers"), Action{Kind: Subscribe, Topic: "job.status.x"}, false, "default-deny", ""},

		// Deny precedence.
		{"quarantine beats operator", groups(ops, quarantine), req("proxy", "task.start"), false, "deny#1", "operator"},
		{"quarantine in other case", groups(ops, strings.ToLower(quarantine)), connectFrom("10.20.0.1"), false, "deny#1", "operator"},
		{"quarantine alone", groups(quarantine), connectFrom("10.20.0.1"), false, "deny#1", ""},
		{"scoped deny applies", groups(ops, "okta:no-delete"), req("proxy", "repo.delete"), false, "deny#2", "operator"},
		{"scoped deny does not apply elsewhere", groups(ops, "okta:no-delete"), req("proxy", "task.start"), true, "role:operator:request#1", "operator"},
		{"actions deny covers serve", Subject{Principal: "OLD$", Groups: []string{"workers"}}, Action{Kind: Serve, Service: "proxy"}, false, "deny#3", "worker"},
		{"actions deny leaves publish", Subject{Principal: "OLD$", Groups: []string{"workers"}}, Action{Kind: Publish, Topic: "job.status.x"}, true, "role:worker:publish#1", "worker"},
		{"first deny in file order wins", groups("okta:no-delete", quarantine), req("proxy", "repo.delete"), false, "deny#1", ""},
		{"deny on a role's own group", groups("okta:readers"), Action{Kind: Subscribe, Topic: "job.secret.keys"}, false, "deny#5", "reader"},
		{"deny connect from a network", groups("okta:readers", "okta:guest-net"), connectFrom("10.99.1.1"), false, "deny#4", "reader"},
		{"deny connect elsewhere passes", groups("okta:readers", "okta:guest-net"), connectFrom("10.98.1.1"), true, "role:reader:connect", "reader"},
		{"deny connect fails closed on unknown source", groups("okta:readers", "okta:guest-net"), connectFrom(""), false, "deny#4", "reader"},

		// CIDR edges.
		{"first address", groups(ops), connectFrom("10.20.0.0"), true, "role:operator:connect", "operator"},
		{"last address", groups(ops), connectFrom("10.20.255.255"), true, "role:operator:connect", "operator"},
		{"just below", groups(ops), connectFrom("10.19.255.255"), false, "default-deny", "operator"},
		{"just above", groups(ops), connectFrom("10.21.0.0"), false, "default-deny", "operator"},
		{"v4-mapped v6 source", groups(ops), connectFrom("::ffff:10.20.3.4"), true, "role:operator:connect", "operator"},
		{"v6 in prefix", groups(ops), connectFrom("2001:db8:20:ffff::1"), true, "role:operator:connect", "operator"},
		{"v6 outside", groups(ops), connectFrom("2001:db8:21::1"), false, "default-deny", "operator"},
		{"v6 with zone", groups(ops), connectFrom("2001:db8:20::1%eth0"), true, "role:operator:connect", "operator"},
		{"single address", groups(ops), connectFrom("192.0.2.7"), true, "role:operator:connect", "operator"},
		{"next to single address", groups(ops), connectFrom("192.0.2.8"), false, "default-deny", "operator"},
		{"unknown source with from", groups(ops), connectFrom(""), false, "default-deny", "operator"},
		{"any source", groups("okta:readers"), connectFrom(""), true, "role:reader:connect", "reader"},

		// Malformed actions.
		{"zero kind", groups(ops), Action{}, false, "invalid-action", "operator"},
		{"unknown kind", groups(ops), Action{Kind: 99, Service: "proxy"}, false, "invalid-action", "operator"},
		{"empty command", groups(ops), req("proxy", ""), false, "invalid-action", "operator"},
		{"wildcard command", groups(ops), req("proxy", "task.*"), false, "invalid-action", "operator"},
		{"subscribe pattern overlapping a deny", groups("okta:readers"), Action{Kind: Subscribe, Topic: "job.**"}, false, "deny#5", "reader"},
		{"subscribe pattern inside the grant", groups("okta:readers"), Action{Kind: Subscribe, Topic: "job.status.*"}, true, "role:reader:subscribe#1", "reader"},
		{"subscribe pattern too short to overlap the deny", groups("okta:readers"), Action{Kind: Subscribe, Topic: "job.*"}, true, "role:reader:subscribe#1", "reader"},
		{"subscribe pattern wider than the grant", groups("okta:readers"), Action{Kind: Subscribe, Topic: "*.status"}, false, "default-deny", "reader"},
		{"subscribe pattern into the deny", groups("okta:readers"), Action{Kind: Subscribe, Topic: "job.secret.*"}, false, "deny#5", "reader"},
		{"malformed subscribe pattern", groups("okta:readers"), Action{Kind: Subscribe, Topic: "job.**.x"}, false, "invalid-action", "reader"},
		{"wildcard publish topic", groups("workers"), Action{Kind: Publish, Topic: "job.status.*"}, false, "invalid-action", "worker"},
		{"empty segment", groups(ops), req("proxy", "task..start"), false, "invalid-action", "operator"},
		{"control char", groups(ops), req("proxy", "task.start\n"), false, "invalid-action", "operator"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Decide(c.subject, c.action)
			if d.Allow != c.allow || d.Rule.ID != c.rule || strings.Join(d.Roles, " ") != c.roles || d.Revision != "r1" {
				t.Errorf("Decide = allow %v by %s, roles [%s], revision %s; want allow %v by %s, roles [%s]",
					d.Allow, d.Rule.ID, strings.Join(d.Roles, " "), d.Revision, c.allow, c.rule, c.roles)
			}
			if r, ok := p.Rule(d.Rule.ID); ok && d.Rule.Kind != RuleInvalid && r != d.Rule {
				t.Errorf("decision rule %+v differs from Rule(%q) %+v", d.Rule, d.Rule.ID, r)
			}
			if got := strings.Join(p.Roles(c.subject), " "); got != c.roles {
				t.Errorf("Roles = %q; want %q", got, c.roles)
			}
		})
	}
}

func TestDecideRuleDetails(t *testing.T) {
	p := mustParse(t, fixture)
	d := p.Decide(groups(quarantine), connectFrom("10.20.0.1"))
	want := Rule{Kind: RuleDeny, ID: "deny#1", Subject: `group "` + quarantine + `"`, Text: "every action", Reason: "incident", File: "test.yaml", Line: 23}
	if d.Rule != want {
		t.Errorf("rule %+v\nwant %+v", d.Rule, want)
	}
	d = p.Decide(groups(ops), req("proxy", "task.start"))
	want = Rule{Kind: RuleGrant, ID: "role:operator:request#1", Role: "operator", Text: "service proxy, commands task.*", File: "test.yaml", Line: 12}
	if d.Rule != want {
		t.Errorf("rule %+v\nwant %+v", d.Rule, want)
	}
	d = p.Decide(groups(ops), req("proxy", ""))
	if d.Rule.Kind != RuleInvalid || d.Rule.Reason != "command is empty" {
		t.Errorf("invalid rule %+v", d.Rule)
	}
	if s := p.Decide(groups(ops), req("proxy", "task.start")).String(); !strings.Contains(s, "allow by role:operator:request#1") || !strings.Contains(s, "test.yaml:12") {
		t.Errorf("String() = %q", s)
	}
}

func TestDecideWithoutPolicy(t *testing.T) {
	var p *Policy
	d := p.Decide(groups(ops), req("proxy", "task.start"))
	if d.Allow || d.Rule.Kind != RuleNoPolicy {
		t.Errorf("nil policy: %+v", d)
	}
	if p.Roles(groups(ops)) != nil {
		t.Error("nil policy gave roles")
	}
}

func TestRevisionDefaultsToHash(t *testing.T) {
	src := "version: 1\n"
	p := mustParse(t, src)
	if p.Revision() != "sha256:"+p.Hash()[:12] || len(p.Hash()) != 64 {
		t.Errorf("revision %q hash %q", p.Revision(), p.Hash())
	}
	q := mustParse(t, src+"# a comment changes the hash\n")
	if q.Revision() == p.Revision() {
		t.Error("different bytes, same revision")
	}
	if d := p.Decide(groups(ops), connectFrom("10.0.0.1")); d.Allow || d.Revision != p.Revision() {
		t.Errorf("empty policy: %+v", d)
	}
}

func TestDecideAllocations(t *testing.T) {
	p := mustParse(t, fixture)
	s := Subject{Principal: "PROXY01$", Groups: []string{ops, "okta:readers", "CN=Domain Users,CN=Users,DC=corp,DC=example,DC=com"}}
	a := req("proxy", "task.start")
	if n := testing.AllocsPerRun(100, func() { p.Decide(s, a) }); n > 1 {
		t.Errorf("Decide allocates %v times; want at most 1 (the roles slice)", n)
	}
	none := Subject{Groups: []string{"CN=Domain Users,CN=Users,DC=corp,DC=example,DC=com"}}
	if n := testing.AllocsPerRun(100, func() { p.Decide(none, a) }); n != 0 {
		t.Errorf("Decide without roles allocates %v times; want 0", n)
	}
}
