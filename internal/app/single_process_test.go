package app_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/app"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
	"foxhole.dev/foxhole/internal/testutil/backends"
)

// A process on PostgreSQL without Valkey refuses to start, with one line
// saying why, unless FOXHOLE_ALLOW_SINGLE_PROCESS=1 says it serves alone.
func TestPostgresWithoutValkeyIsRefused(t *testing.T) {
	db := backends.SharedPostgres(t).NewDatabase(t)
	bin := testutil.BuildFoxhole(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "FOXHOLE_ADDR="+backends.FreeAddr(t), "FOXHOLE_DATA_DIR="+t.TempDir(),
		"FOXHOLE_DATABASE_URL="+db, "FOXHOLE_VALKEY_URL=", "FOXHOLE_ALLOW_SINGLE_PROCESS=")
	out, err := cmd.CombinedOutput()
	line := strings.TrimSpace(string(out))
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 || strings.Contains(line, "\n") ||
		!strings.Contains(line, "FOXHOLE_VALKEY_URL") || !strings.Contains(line, "FOXHOLE_ALLOW_SINGLE_PROCESS=1") {
		t.Fatalf("foxhole on PostgreSQL without Valkey: %v, output %q; want exit 2 and one line naming both ways out", err, out)
	}

	// The same check guards app.New, which tests and embedders call.
	cfg := config.Default()
	cfg.DataDir, cfg.DatabaseURL = t.TempDir(), db
	if a, err := app.New(context.Background(), cfg, zerolog.Nop()); err == nil {
		a.Close()
		t.Fatal("app.New on PostgreSQL without Valkey succeeded")
	}

	// Allowed, it serves.
	p := testutil.StartProcessIn(t, bin, filepath.Join(t.TempDir(), "data"), "FOXHOLE_DATABASE_URL="+db, "FOXHOLE_ALLOW_SINGLE_PROCESS=1")
	if p.URL == "" {
		t.Fatal("no process")
	}
}
