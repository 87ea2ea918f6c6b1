package policy

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// openForWriting reports whether any process (this one included) holds
// the file at path open for writing. It asks the kernel for a read lease,
// which Linux refuses with EAGAIN exactly when the file is open for
// writing, and releases the lease at once. It fails, and cannot tell,
// when leases are unavailable: a file owned by another user without
// CAP_LEASE, fs.leases-enable = 0, or a file system without leases.
func openForWriting(path string) (bool, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		if errors.Is(err, unix.EAGAIN) {
			return true, nil
		}
		return false, fmt.Errorf("read lease on %s: %w", path, err)
	}
	_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
	return false, nil
}
