package okta

import (
	"strings"
	"testing"
)

func TestParseLink(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{`<https://o.example/api/v1/users?limit=200>; rel="self"`, `<https://o.example/api/v1/users?after=00u2&limit=200>; rel="next"`}, "https://o.example/api/v1/users?after=00u2&limit=200"},
		{[]string{`<https://a/1>; rel="self", <https://a/2>; rel="next"`}, "https://a/2"},
		{[]string{`<https://a/2>;rel=next`}, "https://a/2"},
		{[]string{`<https://a/2> ; title="a, b; c" ; REL="prev NEXT"`}, "https://a/2"},
		{[]string{`<https://a/2>; rel="nextish"`}, ""},
		{[]string{`<https://a/1>; rel="self"`}, ""},
		{[]string{`https://a/2; rel="next"`}, ""},
		{[]string{`<https://a/2; rel="next"`}, ""},
		{[]string{`<https://a/2>; rel="next`}, ""},
		{[]string{`<>; rel="next"`}, ""},
		{[]string{`<https://a/x>; title="\"q\""; rel="next"`}, "https://a/x"},
		{nil, ""},
	}
	for _, c := range cases {
		if got := parseLink(c.in, "next"); got != c.want {
			t.Errorf("parseLink(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	f.Add(`<https://o.example/api/v1/users?after=00u2&limit=200>; rel="next"`)
	f.Add(`<https://a/1>; rel="self", <https://a/2>; rel="next"`)
	f.Add(`<https://a/2> ; title="a, b; c\"" ; rel="prev next"`)
	f.Fuzz(func(t *testing.T, s string) {
		got := parseLink([]string{s}, "next")
		if got != "" && (!strings.Contains(s, "<"+got+">") || strings.ContainsAny(got, "<>")) {
			t.Errorf("parseLink(%q) = %q: not a bracketed target of the input", s, got)
		}
	})
}
