package store

import (
	"os"
	"syscall"
)

// datasync makes f's data durable without its metadata, when the file's
// size and blocks have not changed: fdatasync.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
