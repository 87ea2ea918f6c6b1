package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// benchPolicy compiles benchSource.
func benchPolicy(tb testing.TB) *Policy {
	p, err := Parse("bench.yaml", []byte(benchSource()))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// benchSource generates a realistic large policy: 50 roles with connect,
// serve, request, publish and subscribe entries; 200 bindings (AD DNs,
// Okta groups and principals); 11 deny rules.
func benchSource() string {
	var b strings.Builder
	b.WriteString("version: 1\nrevision: bench\nroles:\n")
	for r := 0; r < 50; r++ {
		fmt.Fprintf(&b, "  role%02d:\n", r)
		fmt.Fprintf(&b, "    connect: {from: [\"10.%d.0.0/16\", \"2001:db8:%x::/48\"]}\n", r, r)
		fmt.Fprintf(&b, "    serve: [svc%02d, \"svc%02d.*\"]\n", r, r)
		b.WriteString("    request:\n")
		for q := 0; q < 3; q++ {
			fmt.Fprintf(&b, "      - {service: svc%02d, commands: [task.start, \"task%d.*\", \"repo%d.**\"]}\n", (r+q)%50, q, q)
		}
		fmt.Fprintf(&b, "    publish: [\"job.status.*\", \"job.role%02d.**\"]\n", r)
		fmt.Fprintf(&b, "    subscribe: [\"job.*\", \"alert.role%02d.*\"]\n", r)
	}
	b.WriteString("bindings:\n")
	for i := 0; i < 200; i++ {
		switch i % 4 {
		case 0, 1:
			fmt.Fprintf(&b, "  - {group: \"CN=Group %03d,OU=Groups,DC=corp,DC=example,DC=com\", roles: [role%02d]}\n", i, i%50)
		case 2:
			fmt.Fprintf(&b, "  - {group: \"okta:group-%03d\", roles: [role%02d, role%02d]}\n", i, i%50, (i+7)%50)
		case 3:
			fmt.Fprintf(&b, "  - {principal: \"HOST%03d$\", roles: [role%02d]}\n", i, i%50)
		}
	}
	b.WriteString("deny:\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "  - {group: \"CN=Deny %d,OU=Groups,DC=corp,DC=example,DC=com\", actions: [request]}\n", i)
	}
	b.WriteString("  - {group: \"okta:group-002\", request: [{service: svc02, commands: [repo0.delete]}]}\n")
	return b.String()
}

// benchSubject is a directory user: 20 groups, 3 of them bound (giving
// four roles), the others unknown to the policy, as AD members typically
// are.
func benchSubject() Subject {
	s := Subject{Principal: "HOST003$"}
	s.Groups = append(s.Groups,
		"CN=Group 000,OU=Groups,DC=corp,DC=example,DC=com",
		"cn=group 001, ou=groups, dc=corp, dc=example, dc=com",
		"okta:group-002",
	)
	for i := 0; len(s.Groups) < 20; i++ {
		s.Groups = append(s.Groups, fmt.Sprintf("CN=Unrelated Group %d,OU=Department %d,DC=corp,DC=example,DC=com", i, i%5))
	}
	return s
}

func BenchmarkDecide(b *testing.B) {
	p := benchPolicy(b)
	s := benchSubject()
	cases := []struct {
		name  string
		a     Action
		allow bool
	}{
		{"request-allow", Action{Kind: Request, Service: "svc01", Command: "repo1.backup.run"}, true},
		{"request-default-deny", Action{Kind: Request, Service: "svc40", Command: "task.start"}, false},
		{"request-deny-rule", Action{Kind: Request, Service: "svc02", Command: "repo0.delete"}, false},
		{"connect-allow", Action{Kind: Connect, Source: netip.MustParseAddr("10.9.3.4")}, true},
		{"subscribe-allow", Action{Kind: Subscribe, Topic: "alert.role01.disk"}, true},
	}
	for _, c := range cases {
		if d := p.Decide(s, c.a); d.Allow != c.allow {
			b.Fatalf("%s: %v", c.name, d)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Decide(s, c.a)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	p := benchPolicy(b)
	s := benchSubject()
	a := Action{Kind: Request, Service: "svc01", Command: "repo1.backup.run"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Decide(s, a)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	src := []byte(benchSource())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}
