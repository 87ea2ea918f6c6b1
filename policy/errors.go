package policy

import (
	"errors"
	"fmt"
	"github.com/zapgate/zapgate/internal/edkey"
	"strings"
)

// Error is one problem in a policy file, located by file and line.
type Error struct {
	// File is the policy file's name as given to Parse or Load.
	File string
	// Line is the 1-based line number, or 0 when unknown.
	Line int
	// Msg describes the problem.
	Msg string
}

// Error formats the problem as "file:line: message".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in one policy file, sorted by line; Parse
// returns it as one error.
type Errors []*Error

// Error joins the problems, one per line.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Sentinel errors, matched with errors.Is.
var (
	// ErrNoSignature means a signature was required and FILE.sig is
	// missing.
	ErrNoSignature = errors.New("no signature")
	// ErrBadSignature means FILE.sig is malformed or does not verify
	// against the file's bytes.
	ErrBadSignature = errors.New("bad signature")
	// ErrUntrustedKey means FILE.sig was made by a key that is not among
	// the trusted keys.
	ErrUntrustedKey = errors.New("signed by an untrusted key")
	// ErrInsecureMode means a secret signing key file may be read or
	// written by group or others.
	ErrInsecureMode = edkey.ErrInsecureMode
	// ErrTestsFailed means the policy's embedded tests did not all pass.
	ErrTestsFailed = errors.New("embedded tests failed")
	// ErrTooLarge means a policy or signature file exceeds its size limit.
	ErrTooLarge = errors.New("file too large")
)
