// Package buildinfo says which build of Foxhole is running: the version
// that release builds stamp in, else the module's, and the commit, build
// time and Go version from the Go build information.
package buildinfo

import (
	"cmp"
	"runtime/debug"
	"sync"
)

// version, commit and built are set by release builds (just release):
// -ldflags "-X foxhole.dev/foxhole/internal/buildinfo.version=v1.2.3 ...";
// unset, they come from the Go build information.
var version, commit, built string

// Build describes this binary.
type Build struct {
	Version, Commit, Time, Go, Platform string
}

// Get returns this binary's build information.
var Get = sync.OnceValue(func() Build {
	b := Build{Version: version, Commit: "unknown", Time: "unknown", Go: "unknown", Platform: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if b.Version == "" {
			b.Version = "(devel)"
		}
		b.Commit, b.Time = cmp.Or(commit, b.Commit), cmp.Or(built, b.Time)
		return b
	}
	if b.Version == "" {
		b.Version = info.Main.Version // (devel) for a build from a checkout
	}
	b.Go = info.GoVersion
	var goos, goarch, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			modified = s.Value
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if modified == "true" {
		b.Commit += " (modified)"
	}
	if commit != "" {
		b.Commit = commit
	}
	if built != "" {
		b.Time = built
	}
	if goos != "" {
		b.Platform = goos + "/" + goarch
	}
	return b
})
