package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"foxhole.dev/foxhole/internal/backup"
	"foxhole.dev/foxhole/internal/config"
)

var backupCommand = command{
	name:    "backup",
	args:    "DIR",
	summary: "copy the data dir's database, files and key into DIR (new or empty), while the server runs",
	run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		cfg, code := embeddedConfig("backup", args, stderr)
		if code != 0 {
			return code
		}
		m, err := backup.Backup(ctx, cfg.DataDir, args[0], buildInfo().Version)
		if err != nil {
			fmt.Fprintln(stderr, "foxhole backup:", err)
			return 1
		}
		fmt.Fprintf(stdout, "backed up %s into %s: the database as of %s, %d files (%d bytes)",
			cfg.DataDir, args[0], m.TakenAt.Format("2006-01-02T15:04:05.000Z"), m.Files, m.Bytes)
		if m.Dropped > 0 {
			fmt.Fprintf(stdout, "; %d files deleted during the backup left out", m.Dropped)
		}
		fmt.Fprintln(stdout)
		return 0
	},
}

// embeddedConfig loads the configuration for backup and restore, which
// handle the embedded default only.
func embeddedConfig(name string, args []string, stderr io.Writer) (config.Config, int) {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintf(stderr, "usage: foxhole %s DIR\n", name)
		return config.Config{}, 2
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "foxhole:", err)
		return cfg, 2
	}
	if cfg.DatabaseURL != "" || cfg.S3.Endpoint != "" {
		fmt.Fprintf(stderr, "foxhole %s handles SQLite and files on the local disk only: back up PostgreSQL with pg_dump (or pg_basebackup) and MinIO with mc mirror\n", name)
		return cfg, 2
	}
	return cfg, 0
}
