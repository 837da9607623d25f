//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often a foxholectl waiting for the credentials lock tries
// again. Waiting is rare: two commands saving credentials at once.
const lockPoll = 20 * time.Millisecond

// lockPath takes an exclusive flock on path, creating it (mode 0600) if
// needed, waiting while another holds it until ctx ends, and returns what
// releases it. The kernel releases it too when its holder dies, so a
// foxholectl killed while holding it leaves nothing behind. It is tied to
// the open file: two holders in one process exclude each other as well.
func lockPath(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the credentials lock: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() {
				_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if lockWaiting != nil {
			lockWaiting()
		}
		select {
		case <-time.After(lockPoll):
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for another foxholectl to save its credentials: %w", ctx.Err())
		}
	}
}
