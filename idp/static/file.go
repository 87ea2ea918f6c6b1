package static

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// file is the YAML document.
type file struct {
	// Version must be 1.
	Version int `yaml:"version"`
	// Groups declares nested membership: a group's member_of groups are
	// added to everyone in it, transitively.
	Groups map[string]groupEntry `yaml:"groups"`
	// Principals maps each principal name to its entry.
	Principals map[string]principalEntry `yaml:"principals"`
}

type groupEntry struct {
	// MemberOf lists the groups this group is a member of.
	MemberOf []string `yaml:"member_of"`
}

type principalEntry struct {
	// DisplayName is a human-readable name.
	DisplayName string `yaml:"display_name"`
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// Groups are the principal's direct groups.
	Groups []string `yaml:"groups"`
}

// entry is one compiled principal.
type entry struct {
	display string
	enabled bool
	groups  []string
}

// ParseError is one located problem in a directory file.
type ParseError struct {
	// File is the file name as given.
	File string
	// Line is 1-based, or 0 when unknown.
	Line int
	// Msg describes the problem.
	Msg string
}

// Error formats the problem as "file:line: message".
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("static: %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("static: %s: %s", e.File, e.Msg)
}

// parse decodes and compiles a directory file strictly, reporting every
// problem it finds.
func parse(name string, data []byte) (map[string]entry, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{File: name, Msg: "empty file; want version: 1 and principals"}
		}
		return nil, yamlErrors(name, err)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &ParseError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if f.Version != 1 {
		bad(keyLine(&root, "version"), "version must be 1, not %d", f.Version)
	}
	for g, ge := range f.Groups {
		if strings.TrimSpace(g) == "" {
			bad(keyLine(&root, "groups"), "empty group name")
		}
		for _, m := range ge.MemberOf {
			if strings.TrimSpace(m) == "" {
				bad(keyLine(&root, "groups", g), "group %q: empty member_of entry", g)
			}
		}
	}
	out := make(map[string]entry, len(f.Principals))
	for p, pe := range f.Principals {
		if strings.TrimSpace(p) == "" {
			bad(keyLine(&root, "principals"), "empty principal name")
			continue
		}
		e := entry{display: pe.DisplayName, enabled: pe.Enabled == nil || *pe.Enabled}
		for _, g := range pe.Groups {
			if strings.TrimSpace(g) == "" {
				bad(keyLine(&root, "principals", p), "principal %q: empty group name", p)
			}
		}
		e.groups = expand(pe.Groups, f.Groups)
		out[p] = e
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].(*ParseError).Line < errs[j].(*ParseError).Line })
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// expand returns direct groups plus every group reachable through
// member_of, in a stable order, visiting each group once (cycles end).
func expand(direct []string, nest map[string]groupEntry) []string {
	seen := make(map[string]bool, len(direct))
	var out []string
	var visit func(g string)
	visit = func(g string) {
		if g == "" || seen[g] {
			return
		}
		seen[g] = true
		out = append(out, g)
		for _, m := range nest[g].MemberOf {
			visit(m)
		}
	}
	for _, g := range direct {
		visit(g)
	}
	return out
}

// yamlErrors locates the decoder's messages.
func yamlErrors(name string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	errs := make([]error, 0, len(msgs))
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		pe := &ParseError{File: name, Msg: m}
		var line int
		if n, _ := fmt.Sscanf(m, "line %d:", &line); n == 1 {
			pe.Line = line
			pe.Msg = strings.TrimSpace(m[strings.Index(m, ":")+1:])
		}
		errs = append(errs, pe)
	}
	return errors.Join(errs...)
}

// keyLine returns the line of the key at path in a YAML document, or 0.
func keyLine(root *yaml.Node, path ...string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}
