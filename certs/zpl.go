package certs

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file holds a strict parser for ZPL, the ZeroMQ Property Language
// (rfc.zeromq.org/spec:4), as CZMQ's zconfig reads and writes it:
//
//   - a line is a comment when its first non-blank character is '#';
//   - a node is a name, optionally followed by "= value", and indented by
//     4 spaces per level under its parent (tabs are not allowed);
//   - a name is made of letters, digits and "$-_@.&+/", not starting or
//     ending with '/';
//   - a value is quoted with double quotes or apostrophes (no escapes: it
//     ends at the next matching quote), or unquoted up to a '#' comment,
//     trailing blanks cut;
//   - after a node, only blanks or a '#' comment may follow.
//
// Unlike zconfig, which logs and returns NULL, every error names the file
// and line. Control characters other than tab, and invalid UTF-8, are
// refused anywhere, so a parsed value is always safe to print.

// ParseError describes malformed input in a certificate or ZPL file.
type ParseError struct {
	// File names the input (a path, or the name given to ParseCert).
	File string
	// Line is the 1-based line number, or 0 when the error is about the
	// whole file.
	Line int
	// Msg says what is wrong.
	Msg string
	// Err is an underlying cause, if any (for example a Z85 error).
	Err error
}

// Error returns "certs: FILE:LINE: MSG" (or "certs: FILE: MSG" when Line is 0).
func (e *ParseError) Error() string {
	msg := e.Msg
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Line == 0 {
		return fmt.Sprintf("certs: %s: %s", e.File, msg)
	}
	return fmt.Sprintf("certs: %s:%d: %s", e.File, e.Line, msg)
}

// Unwrap returns the underlying cause.
func (e *ParseError) Unwrap() error { return e.Err }

// zplNode is one named line of a ZPL document and the lines nested under it.
type zplNode struct {
	name     string
	value    string
	hasValue bool // false for a bare name (a section)
	line     int
	children []*zplNode
}

// isNameChar reports whether c may appear in a ZPL name (zconfig's
// s_is_namechar, restricted to ASCII).
func isNameChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("$-_@.&+/", c) >= 0
}

// validName returns an error message when name is not a valid ZPL name.
func validName(name string) string {
	if name == "" {
		return "empty name"
	}
	for i := 0; i < len(name); i++ {
		if !isNameChar(name[i]) {
			return fmt.Sprintf("invalid character %q in name %q (allowed: letters, digits and $-_@.&+/)", name[i], name)
		}
	}
	if name[0] == '/' || name[len(name)-1] == '/' {
		return fmt.Sprintf("name %q starts or ends with '/'", name)
	}
	return ""
}

// parseZPL parses data into its top-level nodes. file names the input in
// errors.
func parseZPL(file string, data []byte) ([]*zplNode, error) {
	root := &zplNode{}
	stack := []*zplNode{root} // stack[i] is the latest node at depth i
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the final newline ends the last line
	}
	for i, raw := range lines {
		lineno := i + 1
		fail := func(format string, args ...any) error {
			return &ParseError{File: file, Line: lineno, Msg: fmt.Sprintf(format, args...)}
		}
		if !utf8.Valid(raw) {
			return nil, fail("invalid UTF-8")
		}
		line := strings.TrimRight(string(raw), " \t\r")
		if c := strings.IndexFunc(line, func(r rune) bool {
			return (r < 0x20 && r != '\t') || r == 0x7f
		}); c >= 0 {
			return nil, fail("control character %q in column %d", line[c], c+1)
		}
		body := strings.TrimLeft(line, " ")
		indent := len(line) - len(body)
		if body == "" || body[0] == '#' {
			continue // blank or comment line
		}
		if body[0] == '\t' {
			return nil, fail("tab in indentation (ZPL indents with 4 spaces per level)")
		}
		if indent%4 != 0 {
			return nil, fail("indentation of %d spaces is not a multiple of 4", indent)
		}
		level := indent / 4
		if level >= len(stack) {
			return nil, fail("indented %d levels deep, but the line before allows at most %d", level, len(stack)-1)
		}
		node, err := parseZPLLine(body)
		if err != "" {
			return nil, fail("%s", err)
		}
		node.line = lineno
		parent := stack[level]
		parent.children = append(parent.children, node)
		stack = append(stack[:level+1], node)
	}
	return root.children, nil
}

// parseZPLLine parses one unindented, non-comment line. It returns an error
// message, or "" on success.
func parseZPLLine(body string) (*zplNode, string) {
	n := 0
	for n < len(body) && isNameChar(body[n]) {
		n++
	}
	name := body[:n]
	if name == "" {
		return nil, fmt.Sprintf("expected a name, found %q", body)
	}
	if msg := validName(name); msg != "" {
		return nil, msg
	}
	if n < len(body) && !strings.ContainsRune(" \t=#", rune(body[n])) {
		return nil, fmt.Sprintf("invalid character %q in name %q (allowed: letters, digits and $-_@.&+/)", body[n], body[:n+1])
	}
	node := &zplNode{name: name}
	rest := strings.TrimLeft(body[n:], " \t")
	switch {
	case rest == "" || rest[0] == '#':
		return node, ""
	case rest[0] != '=':
		return nil, fmt.Sprintf("expected '=' after name %q, found %q", name, rest)
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	node.hasValue = true
	if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
		q := rest[0]
		end := strings.IndexByte(rest[1:], q)
		if end < 0 {
			return nil, fmt.Sprintf("unterminated %c quote in value of %q", q, name)
		}
		node.value = rest[1 : 1+end]
		after := strings.TrimLeft(rest[2+end:], " \t")
		if after != "" && after[0] != '#' {
			return nil, fmt.Sprintf("unexpected text %q after the quoted value of %q", after, name)
		}
		return node, ""
	}
	if c := strings.IndexByte(rest, '#'); c >= 0 {
		rest = rest[:c]
	}
	node.value = strings.TrimRight(rest, " \t")
	return node, ""
}

// quoteValue returns value quoted for a ZPL file: in double quotes unless
// the value contains one, else in apostrophes. It fails when the value cannot
// be written without corrupting the file (it holds both quote characters, a
// line break or another control character except tab, or invalid UTF-8).
func quoteValue(value string) (string, error) {
	if !utf8.ValidString(value) {
		return "", fmt.Errorf("value is not valid UTF-8")
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", fmt.Errorf("value contains control character %q", c)
		}
	}
	switch {
	case !strings.Contains(value, `"`):
		return `"` + value + `"`, nil
	case !strings.Contains(value, `'`):
		return `'` + value + `'`, nil
	}
	return "", fmt.Errorf("value contains both quote characters")
}
