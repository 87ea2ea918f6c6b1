// Package strictmode checks file permissions the way sshd's StrictModes
// does, so every place that trusts a file on disk applies the same rule:
// a secret file must not be accessible by group or others (Secret); a
// file or directory that decides who may do what must not be writable by
// group or others nor owned by anyone but this process's user or root
// (Trusted, TrustedDir).
package strictmode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrAccessible is wrapped by Secret's error for a file that group or
// others may read, write or execute.
var ErrAccessible = errors.New("secret file is accessible by group or others")

// ErrUntrusted is wrapped by Trusted's and TrustedDir's error for a file or
// directory someone else than this process's user or root may change.
var ErrUntrusted = errors.New("untrusted file")

// Secret returns an error wrapping ErrAccessible, naming path, its mode
// and the fix (chmod 600), when fi's permission bits give group or others
// any access.
func Secret(path string, fi fs.FileInfo) error {
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("mode %04o: %w; run: chmod 600 %s", m, ErrAccessible, path)
	}
	return nil
}

// Trusted returns an error wrapping ErrUntrusted when the file or
// directory described by fi (at path) is writable by group or others, or
// owned by a user other than this process's effective user or root. The
// message names path, the reason and the fix.
func Trusted(path string, fi fs.FileInfo) error {
	return trusted(path, fi, false)
}

// TrustedDir checks the directory dir with Trusted after resolving
// symbolic links, and every directory above it up to the root the same
// way, except that an ancestor with the sticky bit (like /tmp) may be
// writable by others: they cannot rename or remove what is not theirs. A
// directory that does not exist returns an error wrapping fs.ErrNotExist.
func TrustedDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	for p, first := real, true; ; first = false {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s: not a directory", p)
		}
		if err := trusted(p, fi, !first); err != nil {
			if p != dir && first {
				return fmt.Errorf("%s (%s): %w", dir, p, err)
			}
			return err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

func trusted(path string, fi fs.FileInfo, stickyOK bool) error {
	if uid, ok := owner(fi); ok && uid != 0 && uid != os.Geteuid() {
		return fmt.Errorf("%s: owned by uid %d, not by uid %d (this process) or root (%w); run: chown %d %s",
			path, uid, os.Geteuid(), ErrUntrusted, os.Geteuid(), path)
	}
	m := fi.Mode()
	if m.Perm()&0o022 != 0 && !(stickyOK && m&fs.ModeSticky != 0) {
		return fmt.Errorf("%s: mode %04o is writable by group or others (%w); run: chmod go-w %s",
			path, m.Perm(), ErrUntrusted, path)
	}
	return nil
}

// owner returns the file's owner, when the platform says.
func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
