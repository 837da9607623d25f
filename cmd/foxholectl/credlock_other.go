//go:build !unix

package main

import "context"

// lockPath does not lock where flock is not available: concurrent
// foxholectl commands may then save over each other's credentials.
func lockPath(context.Context, string) (func(), error) { return func() {}, nil }
