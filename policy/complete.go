package policy

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// ErrIncomplete means the policy file is not known to be complete: another
// process still holds it open for writing, or its content changed during
// the settle interval. The Store does not load such a file; the last good
// policy keeps serving and Watch tries again after Debounce.
var ErrIncomplete = errors.New("policy file is still being written")

// readComplete reads the policy file once it is complete (security
// invariant 8, docs/security.md "Policy reload"): nobody holds it open
// for writing, and two reads Settle apart return the same bytes. An
// editor or script that writes the file in place and stalls half-way
// leaves it open, so its truncated content is never read as a policy; a
// file renamed into place is complete the moment it appears. Where open
// files cannot be detected (see openForWriting), only the settle check
// applies.
func (s *Store) readComplete() ([]byte, error) {
	file := s.opts.File
	first, err := readLimited(file, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", file, err)
	}
	time.Sleep(s.opts.Settle)
	open, perr := openForWriting(file)
	if perr != nil && s.probeWarned.CompareAndSwap(false, true) {
		s.log.Warn("policy: cannot tell whether the policy file is open for writing; only the settle check applies (write the file elsewhere and rename it into place, or sign policies)",
			"err", perr)
	}
	if open {
		return nil, fmt.Errorf("policy: %s: %w: open for writing by another process", file, ErrIncomplete)
	}
	second, err := readLimited(file, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", file, err)
	}
	if !bytes.Equal(first, second) {
		return nil, fmt.Errorf("policy: %s: %w: changed within %v", file, ErrIncomplete, s.opts.Settle)
	}
	return second, nil
}
