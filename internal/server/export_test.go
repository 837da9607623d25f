package server

import (
	"testing"
	"time"
)

// ShortenRequestTimeouts makes every request_timeout d for the servers
// started until the test ends. Tests that call it must not run in
// parallel with others that start servers.
func ShortenRequestTimeouts(t testing.TB, d time.Duration) {
	requestTimeoutForTest.Store(int64(d))
	t.Cleanup(func() { requestTimeoutForTest.Store(0) })
}
