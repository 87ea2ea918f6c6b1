//go:build !linux

package policy

import "errors"

// openForWriting cannot tell on this system whether the file is open for
// writing; only the settle check applies.
func openForWriting(string) (bool, error) {
	return false, errors.New("open-for-writing detection needs Linux file leases")
}
