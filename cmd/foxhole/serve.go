package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	_ "net/http/pprof" // served on FOXHOLE_PPROF_ADDR only
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/app"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/gctune"
)

var serveCommand = command{
	name:    "serve",
	summary: "serve the API, the web app and the probes on FOXHOLE_ADDR (the default)",
	run: func(ctx context.Context, args []string, _, stderr io.Writer) int {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "foxhole serve takes no arguments (configuration is in FOXHOLE_* variables), not %q\n", args)
			return 2
		}
		cfg, err := config.Load(os.Getenv)
		if err != nil {
			fmt.Fprintln(stderr, "foxhole:", err)
			return 2
		}
		log := newLogger(cfg)
		b := buildInfo()
		log.Info().Str("version", b.Version).Str("commit", b.Commit).Msg("foxhole starting")
		if cfg.PprofAddr != "" {
			// Profiles stay off the API port: only whoever reaches this address sees them.
			go func() {
				log.Info().Str("addr", cfg.PprofAddr).Msg("serving pprof")
				if err := http.ListenAndServe(cfg.PprofAddr, nil); err != nil {
					log.Error().Err(err).Msg("pprof listener")
				}
			}()
		}
		go gctune.Run(ctx, uint64(cfg.GCHeapFloor), time.Second)
		a, err := app.New(ctx, cfg, log)
		if err != nil {
			fmt.Fprintln(stderr, "foxhole:", err)
			return 1
		}
		if err := a.Run(ctx); err != nil {
			log.Error().Err(err).Msg("server stopped with an error")
			return 1
		}
		return 0
	},
}

// newLogger writes JSON lines, or readable lines when stderr is a terminal
// and the format is left on auto.
func newLogger(cfg config.Config) zerolog.Logger {
	level, _ := zerolog.ParseLevel(cfg.LogLevel)
	zerolog.TimeFieldFormat = time.RFC3339Nano
	console := cfg.LogFormat == "console" ||
		(cfg.LogFormat == "auto" && isatty.IsTerminal(os.Stderr.Fd()))
	var log zerolog.Logger
	if console {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly})
	} else {
		log = zerolog.New(os.Stderr)
	}
	return log.Level(level).With().Timestamp().Logger()
}
