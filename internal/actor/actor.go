// Package actor names the person behind a command-line change, for the
// stamps ("added-by", "revoked-by") that the broker's audit records of
// registry changes carry.
package actor

import (
	"fmt"
	"os"
	"os/user"
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
