package client

import "time"

// SetClock makes ts read the time from now, so that tests can move past a
// token's renewal without waiting.
func SetClock(ts *TokenSource, now func() time.Time) { ts.now = now }
