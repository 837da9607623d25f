package main

import (
	"context"
	"fmt"
	"io"

	"foxhole.dev/foxhole/internal/backup"
)

var restoreCommand = command{
	name:    "restore",
	args:    "DIR",
	summary: "put the backup in DIR in place of an empty data dir (FOXHOLE_DATA_DIR); the server must be stopped",
	run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		cfg, code := embeddedConfig("restore", args, stderr)
		if code != 0 {
			return code
		}
		m, err := backup.Restore(ctx, args[0], cfg.DataDir)
		if err != nil {
			fmt.Fprintln(stderr, "foxhole restore:", err)
			return 1
		}
		fmt.Fprintf(stdout, "restored the backup of %s (foxhole %s, %d files) into %s\n",
			m.TakenAt.Format("2006-01-02T15:04:05.000Z"), m.Version, m.Files, cfg.DataDir)
		return 0
	},
}
