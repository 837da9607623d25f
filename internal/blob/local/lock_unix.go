//go:build unix

package local

import (
	"os"

	"golang.org/x/sys/unix"
)

// lock takes an exclusive lock on f, waiting for any holder (RemoveStaleTemp
// holds one only for a moment).
func lock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			return err
		}
	}
}

// tryLock reports whether it took an exclusive lock on f: false while a
// writer holds one. Closing f releases it.
func tryLock(f *os.File) bool {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}
