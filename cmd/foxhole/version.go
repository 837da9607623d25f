package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// version is set by release builds (-ldflags "-X main.version=v1.2.3");
// otherwise the module version from the build information is used.
var version = ""

var versionCommand = command{
	name:    "version",
	summary: "print the version, commit, build time and Go version",
	run: func(_ context.Context, _ []string, stdout, _ io.Writer) int {
		b := buildInfo()
		fmt.Fprintf(stdout, "foxhole %s\ncommit   %s\nbuilt    %s\ngo       %s\nplatform %s\n", b.Version, b.Commit, b.Time, b.Go, b.Platform)
		return 0
	},
}

// build describes this binary.
type build struct {
	Version, Commit, Time, Go, Platform string
}

func buildInfo() build {
	b := build{Version: version, Commit: "unknown", Time: "unknown", Go: "unknown", Platform: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if b.Version == "" {
			b.Version = "(devel)"
		}
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
	if goos != "" {
		b.Platform = goos + "/" + goarch
	}
	return b
}
