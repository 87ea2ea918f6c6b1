// Package fileerr is the "file:line: message" error shared by the strict
// loaders of the configuration and the policy file: every problem is
// located, and all of them are reported at once.
package fileerr

import (
	"fmt"
	"strings"
)

// Error is one problem in a file, located by file and line.
type Error struct {
	// File is the file's path as given to the loader.
	File string
	// Line is the 1-based line number, or 0 when unknown.
	Line int
	// Msg describes the problem.
	Msg string
}

// Error formats the problem as "file:line: message" ("file: message"
// when the line is unknown).
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in one file; it is returned as one error.
type Errors []*Error

// Error joins the problems, one per line.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}
