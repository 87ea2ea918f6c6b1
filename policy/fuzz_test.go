package policy

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic, every
// error must be located in the file, and a policy that loads must decide,
// explain, run its tests and diff against itself without surprises.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(fixture))
	f.Add([]byte(testsFixture))
	f.Add([]byte(enrollFixture))
	f.Add([]byte("version: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			errs, ok := err.(Errors)
			if !ok || len(errs) == 0 {
				t.Fatalf("error of type %T: %v", err, err)
			}
			lines := strings.Count(string(data), "\n") + strings.Count(string(data), "\r") + 2 // YAML breaks lines at CR too
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 || e.Line > lines {
					t.Fatalf("bad error %+v", e)
				}
			}
			return
		}
		q, err := Parse("fuzz.yaml", data)
		if err != nil || q.Revision() != p.Revision() || q.ContentHash() != p.ContentHash() {
			t.Fatal("parsing twice differs")
		}
		if !strings.HasPrefix(p.ContentHash(), "sha256:") || !strings.HasPrefix(p.Hash(), p.ContentHash()[7:]) {
			t.Fatalf("content hash %q of %s", p.ContentHash(), p.Hash())
		}
		if w := Weakened(p, q); w != nil {
			t.Fatalf("a policy weakens itself: %+v", w)
		}
		subjects := []Subject{{}, {Principal: "PROXY01$", Groups: []string{ops, quarantine, "okta:x", "plain"}}}
		for _, b := range p.bindings {
			subjects = append(subjects, Subject{Groups: []string{b.value}, Principal: b.value})
		}
		actions := []Action{
			{Kind: Connect}, {Kind: Connect, Source: netip.MustParseAddr("10.0.0.1")},
			{Kind: Serve, Service: "proxy"}, {Kind: Request, Service: "proxy", Command: "task.start"},
			{Kind: Publish, Topic: "job.status.x"}, {Kind: Subscribe, Topic: "job.x.y"}, {Kind: 42},
			{Kind: Enroll, Target: "PROXY01$"}, {Kind: Enroll, Target: "svc-backup@corp.example.com"},
		}
		for _, s := range subjects {
			for _, a := range actions {
				d := p.Decide(s, a)
				e := p.Explain(s, a)
				if e.Decision.Allow != d.Allow || e.Decision.Rule != d.Rule {
					t.Fatalf("explain and decide disagree: %v vs %v", e.Decision, d)
				}
				if d.Allow && (d.Rule.Kind != RuleGrant || len(d.Roles) == 0) {
					t.Fatalf("allow without a grant: %v", d)
				}
				if _, ok := p.Rule(d.Rule.ID); !ok {
					t.Fatalf("decision cites unknown rule %q", d.Rule.ID)
				}
				var b strings.Builder
				if err := e.WriteText(&b); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := RunTests(p, nil); err != nil {
			t.Fatal(err)
		}
		if d := Diff(p, q); len(d.Decisions) != 0 || len(d.Roles) != 0 {
			t.Fatalf("policy differs from itself: %+v", d)
		}
	})
}

// FuzzGroupKey checks that group normalisation never panics, is
// deterministic, ignores ASCII case and surrounding whitespace, and never
// lets a valid DN collide with a differently-kinded group.
func FuzzGroupKey(f *testing.F) {
	for _, s := range []string{ops, `CN=Smith\, John,DC=x`, `cn=\c3\a9,dc=x`, "okta:Backup", "plain", "CN=a+OU=b,DC=c", `CN=\ a\ ,DC=x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, g string) {
		k1, ok1 := appendGroupKey(nil, g)
		k2, ok2 := appendGroupKey(make([]byte, 0, 4), g)
		if ok1 != ok2 || string(k1) != string(k2) {
			t.Fatal("not deterministic")
		}
		if !ok1 {
			return
		}
		if !strings.HasPrefix(string(k1), "d:") && !strings.HasPrefix(string(k1), "o:") && !strings.HasPrefix(string(k1), "n:") {
			t.Fatalf("key %q has no kind", k1)
		}
		swapped := []byte(" " + g + " ")
		for i, c := range swapped {
			switch {
			case 'a' <= c && c <= 'z':
				swapped[i] = c - 32
			case 'A' <= c && c <= 'Z':
				swapped[i] = c + 32
			}
		}
		if utf8.ValidString(g) {
			k3, ok3 := appendGroupKey(nil, string(swapped))
			if !ok3 || string(k3) != string(k1) {
				t.Fatalf("case/space variant %q: key %q, %v; want %q", swapped, k3, ok3, k1)
			}
		}
	})
}
