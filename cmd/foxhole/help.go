package main

import (
	"context"
	"fmt"
	"io"
)

var helpCommand = command{
	name:    "help",
	summary: "print this help",
	run: func(_ context.Context, _ []string, stdout, _ io.Writer) int {
		usage(stdout)
		return 0
	},
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: foxhole [COMMAND] [ARGUMENTS]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name+" "+c.args, c.summary)
	}
	fmt.Fprint(w, `
With no command, foxhole serves. Every command reads the FOXHOLE_*
environment variables (FOXHOLE_DATA_DIR, FOXHOLE_ADDR, ...): see the README.
Exit codes: 0 success, 1 failure, 2 usage or configuration.
`)
}
