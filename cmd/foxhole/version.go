package main

import (
	"context"
	"fmt"
	"io"

	"foxhole.dev/foxhole/internal/buildinfo"
)

var versionCommand = command{
	name:    "version",
	summary: "print the version, commit, build time and Go version",
	run: func(_ context.Context, _ []string, stdout, _ io.Writer) int {
		b := buildInfo()
		fmt.Fprintf(stdout, "foxhole %s\ncommit   %s\nbuilt    %s\ngo       %s\nplatform %s\n", b.Version, b.Commit, b.Time, b.Go, b.Platform)
		return 0
	},
}

// buildInfo describes this binary; release builds stamp the version in
// (see the release recipe).
func buildInfo() buildinfo.Build { return buildinfo.Get() }
