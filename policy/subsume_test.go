package policy

import (
	"strings"
	"testing"
)

func TestSubsumesAndOverlaps(t *testing.T) {
	cases := []struct {
		g, q               string
		subsumes, overlaps bool
	}{
		{"job.**", "job.**", true, true},
		{"job.**", "job.*", true, true},
		{"job.**", "job.a.*", true, true},
		{"job.*", "job.**", false, true},
		{"job.*", "job.a", true, true},
		{"job.*", "job.a.b", false, false},
		{"job.*.x", "job.a.*", false, true},
		{"job.a.*", "job.*.x", false, true},
		{"**", "a.b.**", true, true},
		{"job", "job.*", false, false},
		{"job.**", "job", false, false},
		{"job.secret.**", "job.*", false, false},
		{"job.secret.**", "job.**", false, true},
		{"a.b", "a.b", true, true},
		{"a.b", "a.c", false, false},
		{"*", "**", false, true},
	}
	for _, c := range cases {
		g, q := strings.Split(c.g, "."), strings.Split(c.q, ".")
		if got := subsumes(g, q); got != c.subsumes {
			t.Errorf("subsumes(%s, %s) = %v", c.g, c.q, got)
		}
		if got := overlaps(g, q); got != c.overlaps {
			t.Errorf("overlaps(%s, %s) = %v", c.g, c.q, got)
		}
		if got := overlaps(q, g); got != c.overlaps {
			t.Errorf("overlaps(%s, %s) = %v (not symmetric)", c.q, c.g, got)
		}
	}
}
