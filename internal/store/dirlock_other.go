//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd || solaris)

package store

import "context"

// lockFile does nothing on platforms without flock: there, two processes
// must not start on one data dir at the same moment.
func lockFile(context.Context, string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
