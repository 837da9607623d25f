//go:build !unix

package local

import "os"

// lock does nothing where flock is missing.
func lock(*os.File) error { return nil }

// tryLock never succeeds where flock is missing: without locks a live
// upload cannot be told from a dead one, so temporary files are kept.
func tryLock(*os.File) bool { return false }
