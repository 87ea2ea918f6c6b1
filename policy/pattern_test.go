package policy

import (
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	cases := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{"task.start", []string{"task.start"}, []string{"task", "task.start.x", "Task.start", "task.star", "x.task.start"}},
		{"task.*", []string{"task.start", "task.x"}, []string{"task", "task.a.b", "tasks.start", "x.task.start"}},
		{"task.**", []string{"task.a", "task.a.b", "task.a.b.c"}, []string{"task", "tasks.a", "x.task.a"}},
		{"*", []string{"proxy", "a"}, []string{"a.b"}},
		{"**", []string{"a", "a.b", "a.b.c.d"}, nil},
		{"*.status", []string{"job.status", "task.status"}, []string{"status", "job.status.x", "a.b.status"}},
		{"job.*.status", []string{"job.x.status"}, []string{"job.status", "job.x.y.status", "job.x.status.y"}},
		{"*.*", []string{"a.b"}, []string{"a", "a.b.c"}},
		{"job.*.**", []string{"job.a.b", "job.a.b.c"}, []string{"job.a", "job"}},
		{"mmi.service", []string{"mmi.service"}, []string{"mmi", "mmi.services"}},
	}
	for _, c := range cases {
		p, err := compilePattern(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		for _, n := range c.match {
			if !p.match(n) {
				t.Errorf("%q should match %q", c.pattern, n)
			}
		}
		for _, n := range c.nomatch {
			if p.match(n) {
				t.Errorf("%q should not match %q", c.pattern, n)
			}
		}
	}
}

func TestPatternErrors(t *testing.T) {
	cases := map[string]string{
		"":            "empty pattern",
		".":           "empty segment",
		"task.":       "empty segment",
		".task":       "empty segment",
		"task..start": "empty segment",
		"**.status":   `"**" may only be the last segment`,
		"a.**.b":      `"**" may only be the last segment`,
		"task*":       "whole segment",
		"*task":       "whole segment",
		"***":         "whole segment",
		"a.b*c":       "whole segment",
		"task start":  "whitespace",
		"task\tstart": "whitespace",
		"task\x00":    "control",
		"bad\xffutf8": "invalid UTF-8",
	}
	for in, want := range cases {
		_, err := compilePattern(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("compilePattern(%q) = %v; want an error containing %q", in, err, want)
		}
	}
	if _, err := compilePattern(strings.Repeat("a", 1025)); err == nil {
		t.Error("over-long pattern accepted")
	}
}

func TestNameProblem(t *testing.T) {
	for _, ok := range []string{"task.start", "proxy", "job.status.PROXY01", "a-b_c.d"} {
		if p := nameProblem("command", ok); p != "" {
			t.Errorf("%q: %s", ok, p)
		}
	}
	for _, bad := range []string{"", ".", "a.", ".a", "a..b", "task.*", "**", "a\nb", strings.Repeat("x", 1025)} {
		if nameProblem("command", bad) == "" {
			t.Errorf("%q accepted as a name", bad)
		}
	}
}

func TestPatternSample(t *testing.T) {
	cases := map[string][]string{
		"task.start": {"task.start"},
		"task.*":     {"task.{any}"},
		"task.**":    {"task.{any}", "task.{any}.{any}"},
		"*.status":   {"{any}.status"},
	}
	for in, want := range cases {
		p, _ := compilePattern(in)
		got := p.sample()
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("sample(%q) = %q; want %q", in, got, want)
		}
		for _, n := range got {
			if nameProblem("x", n) != "" || !p.match(n) {
				t.Errorf("sample %q of %q is not a matching name", n, in)
			}
		}
	}
}
