//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd || solaris

package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockPollInterval is how often a waiting Open retries the lock. Waiting is
// rare (two processes starting together) and lasts as long as the other's
// migrations.
const lockPollInterval = 20 * time.Millisecond

// lockFile takes an exclusive flock on path, creating the file if needed, and
// returns the function that releases it. It waits while another holder has it,
// until ctx ends.
//
// flock, not a row in the database: the kernel releases it when its holder
// dies, so a process killed mid-migration never leaves a lock behind that
// stops every later start. It is tied to the open file, so two opens in one
// process exclude each other too.
func lockFile(ctx context.Context, path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// Non-blocking tries in a loop, because a blocking flock could not
		// be abandoned when ctx ends.
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(lockPollInterval):
		}
	}
	// Closing the file releases the lock.
	return f.Close, nil
}
