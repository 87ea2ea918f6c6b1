// Package actor names the person behind a change: the OS user of a
// command-line verb, for the stamps ("added-by", "revoked-by") that the
// broker's audit records of registry changes carry, and the owner of a
// file changed by hand (a policy edit).
package actor

import (
	"fmt"
	"os"
	"os/user"
	"syscall"
	"time"
)

// Current returns the OS user running this process as "NAME (uid N)",
// with ", sudo from NAME" added when root runs it through sudo (SUDO_USER),
// or "uid N" when the user has no name.
func Current() string {
	uid := os.Getuid()
	s := fmt.Sprintf("uid %d", uid)
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil && u.Username != "" {
		s = fmt.Sprintf("%s (uid %d", u.Username, uid)
		if su := os.Getenv("SUDO_USER"); uid == 0 && su != "" && su != u.Username {
			s += ", sudo from " + su
		}
		s += ")"
	}
	return s
}

// FileOwner names the owner of path as "NAME (uid N)", or "uid N" when
// the user has no name, with the file's modification time (RFC 3339,
// UTC): the best a broker can say of who made a change written by hand
// (a policy edit) where no verb stamped it. It returns "" when the file
// cannot be examined.
func FileOwner(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	s := fmt.Sprintf("uid %d", st.Uid)
	if u, err := user.LookupId(fmt.Sprint(st.Uid)); err == nil && u.Username != "" {
		s = fmt.Sprintf("%s (uid %d)", u.Username, st.Uid)
	}
	return s + ", modified " + fi.ModTime().UTC().Format(time.RFC3339)
}
