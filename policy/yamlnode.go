package policy

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder walks a parsed YAML document strictly, collecting every problem
// with its line instead of stopping at the first.
type decoder struct {
	file string
	errs Errors
}

// strAt is a string value with the line it was written on.
type strAt struct {
	s    string
	line int
}

func (d *decoder) errorf(line int, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// node checks the things every node must satisfy: no anchors, no aliases,
// no custom tags. It reports false (after reporting the problem) when n
// must be skipped.
func (d *decoder) node(n *yaml.Node, what string) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		d.errorf(n.Line, "%s: aliases (*%s) are not allowed in policy files; write the value out", what, n.Value)
		return false
	case n.Anchor != "":
		d.errorf(n.Line, "%s: anchors (&%s) are not allowed in policy files", what, n.Anchor)
		return false
	case n.Tag != "" && !strings.HasPrefix(n.Tag, "!!"):
		d.errorf(n.Line, "%s: custom tag %s is not allowed", what, n.Tag)
		return false
	}
	return true
}

// mapping calls fn for each key of the mapping n, in order. Keys that are
// not in known, keys given twice, and keys that are not plain strings are
// reported and skipped. It returns false when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, what string, known []string, fn func(key string, k, v *yaml.Node)) bool {
	if !d.node(n, what) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, "%s: want a mapping (key: value), got %s", what, describe(n))
		return false
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !d.node(k, what) {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" {
			d.errorf(k.Line, "%s: keys must be plain strings", what)
			continue
		}
		if k.Value == "<<" {
			d.errorf(k.Line, "%s: merge keys (<<) are not allowed in policy files", what)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, "%s: duplicate key %q (first at line %d)", what, k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		if known != nil && !contains(known, k.Value) {
			d.errorf(k.Line, "%s: unknown key %q (want %s)", what, k.Value, strings.Join(known, ", "))
			continue
		}
		fn(k.Value, k, v)
	}
	return true
}

// sequence calls fn for each item of the sequence n. It returns false when
// n is not a sequence.
func (d *decoder) sequence(n *yaml.Node, what string, fn func(i int, item *yaml.Node)) bool {
	if !d.node(n, what) {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, "%s: want a list, got %s", what, describe(n))
		return false
	}
	for i, item := range n.Content {
		fn(i, item)
	}
	return true
}

// str returns the string value of the scalar n. Null and empty values and
// non-scalars are reported.
func (d *decoder) str(n *yaml.Node, what string) (strAt, bool) {
	if !d.node(n, what) {
		return strAt{}, false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, "%s: want a string, got %s", what, describe(n))
		return strAt{}, false
	}
	if n.Tag == "!!null" || n.Value == "" {
		d.errorf(n.Line, "%s: empty value", what)
		return strAt{}, false
	}
	return strAt{n.Value, n.Line}, true
}

// strs returns the strings of a sequence of scalars; a bad item is
// reported and left out. empty tells whether an empty list is allowed.
func (d *decoder) strs(n *yaml.Node, what string, empty bool) []strAt {
	var out []strAt
	ok := d.sequence(n, what, func(_ int, item *yaml.Node) {
		if s, ok := d.str(item, what); ok {
			out = append(out, s)
		}
	})
	if ok && len(n.Content) == 0 && !empty {
		d.errorf(n.Line, "%s: empty list", what)
	}
	return out
}

// describe names a node's kind for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an alias"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
