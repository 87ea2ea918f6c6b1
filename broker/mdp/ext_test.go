package mdp

import (
	"strings"
	"testing"
)

func TestRefusalRoundTrip(t *testing.T) {
	r := Refusal{Code: CodeForbidden, Reason: ReasonForbidden, Detail: `request service "proxy" command "task.start"`}
	got, ok := ParseRefusal(r.Body())
	if !ok || got != r {
		t.Fatalf("got %+v %v", got, ok)
	}
	if r.Error() != `403 forbidden: request service "proxy" command "task.start"` {
		t.Fatal(r.Error())
	}
	if _, ok := ParseRefusal(fr("ok")); ok {
		t.Fatal("plain reply parsed as refusal")
	}
	if _, ok := ParseRefusal(nil); ok {
		t.Fatal("empty body parsed as refusal")
	}
	got, ok = ParseRefusal(fr(ErrorFrame, "4x3"))
	if !ok || got.Code != 0 || got.Reason != "" {
		t.Fatalf("bad code: %+v %v", got, ok)
	}
}

func TestReserved(t *testing.T) {
	for _, s := range []string{"zapgate.publish", "zapgate.x", "mmi.service", "mmi.foo"} {
		if !Reserved(s) {
			t.Errorf("%q not reserved", s)
		}
	}
	for _, s := range []string{"proxy", "zapgate", "mmi", "zapgatex.y"} {
		if Reserved(s) {
			t.Errorf("%q reserved", s)
		}
	}
}

func TestNamesAndPatterns(t *testing.T) {
	long := strings.Repeat("a", 256)
	for _, s := range []string{"", ".a", "a.", "a..b", "a*", "*", "a\x01", "\xff", long} {
		if CheckName(s) == nil {
			t.Errorf("name %q accepted", s)
		}
	}
	for _, s := range []string{"a", "task.start", "job.status.PROXY01$", "with space"} {
		if err := CheckName(s); err != nil {
			t.Errorf("name %q: %v", s, err)
		}
	}
	for _, s := range []string{"", "a.**.b", "job*", "a..b", ".", "**.a", long} {
		if CheckPattern(s) == nil {
			t.Errorf("pattern %q accepted", s)
		}
	}
	for _, s := range []string{"a", "*", "**", "job.*", "job.**", "*.status.*", "job.status.PROXY01$"} {
		if err := CheckPattern(s); err != nil {
			t.Errorf("pattern %q: %v", s, err)
		}
	}
}

func TestMatchTopic(t *testing.T) {
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"job.*", "job.done", true},
		{"job.*", "job", false},
		{"job.*", "job.a.b", false},
		{"job.**", "job.a", true},
		{"job.**", "job.a.b", true},
		{"job.**", "job", false},
		{"**", "x", true},
		{"**", "x.y.z", true},
		{"*", "x", true},
		{"*", "x.y", false},
		{"job.status.p1", "job.status.p1", true},
		{"job.status.p1", "job.status.p2", false},
		{"job.status", "job.status.p1", false},
		{"*.status.*", "job.status.p1", true},
		{"*.status.*", "job.state.p1", false},
	}
	for _, c := range cases {
		if got := MatchTopic(c.pattern, c.topic); got != c.want {
			t.Errorf("MatchTopic(%q, %q) = %v", c.pattern, c.topic, got)
		}
	}
}

// FuzzPattern checks the pattern rules against a literal reading: a
// pattern without wildcards matches exactly itself, "**" matches every
// name, and matching never panics.
func FuzzPattern(f *testing.F) {
	f.Add("job.*", "job.done")
	f.Add("job.**", "job.a.b")
	f.Add("*.status.*", "job.status.p1")
	f.Add("a..b", "a")
	f.Add("**", "zapgate.event")
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		if CheckPattern(pattern) != nil || CheckName(topic) != nil {
			return
		}
		got := MatchTopic(pattern, topic)
		if !strings.Contains(pattern, "*") && got != (pattern == topic) {
			t.Fatalf("literal %q vs %q: %v", pattern, topic, got)
		}
		if pattern == "**" && !got {
			t.Fatalf("** did not match %q", topic)
		}
		if CheckName(pattern) == nil && !MatchTopic(pattern, pattern) {
			t.Fatalf("%q does not match itself", pattern)
		}
		if r, ok := ParseRefusal([][]byte{[]byte(ErrorFrame), []byte(pattern), []byte(topic)}); !ok || r.Reason != topic {
			t.Fatalf("refusal %+v %v", r, ok)
		}
	})
}
