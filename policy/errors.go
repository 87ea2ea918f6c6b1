package policy

import (
	"errors"

	"github.com/zapgate/zapgate/internal/edkey"
	"github.com/zapgate/zapgate/internal/fileerr"
)

// Error is one problem in a policy file, located by file and line
// ("file:line: message").
type Error = fileerr.Error

// Errors is every problem found in one policy file, sorted by line; it is
// returned as one error, one problem per line.
type Errors = fileerr.Errors

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
