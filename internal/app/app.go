// Package app picks Foxhole's backends from the configuration, builds the
// services on them, and owns the order in which they start and stop.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/cache/memory"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/profile"
	"foxhole.dev/foxhole/internal/server"
	"foxhole.dev/foxhole/internal/store"
)

// App is one running Foxhole.
type App struct {
	cfg     config.Config
	log     zerolog.Logger
	store   *store.Store
	handler *server.Handler
	http    *http.Server
}

// cacheEntries bounds the in-process cache.
const cacheEntries = 100_000

// New opens the backends named by cfg and builds the services.
func New(ctx context.Context, cfg config.Config, log zerolog.Logger) (*App, error) {
	if cfg.ValkeyURL != "" {
		return nil, errors.New("FOXHOLE_VALKEY_URL is set, but this build has no Valkey backend yet; unset it to use the in-process cache and hub")
	}
	if cfg.S3.Endpoint != "" {
		return nil, errors.New("FOXHOLE_S3_ENDPOINT is set, but this build has no S3 backend yet; unset it to use the local disk")
	}
	key := cfg.JWTSecret
	if len(key) == 0 {
		var err error
		if key, err = auth.LoadOrCreateKey(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	}
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	authSvc := auth.NewService(st, auth.NewTokens(key, cfg.TokenTTL), memory.New(cacheEntries))
	h := server.New(server.Options{
		Log:             log,
		Auth:            authSvc,
		Profile:         profile.NewService(st),
		Checks:          map[string]func(context.Context) error{"database": st.Ping},
		CORSOrigins:     cfg.CORSOrigins,
		MaxRequestBytes: cfg.MaxRequestBytes,
	})
	return &App{
		cfg:     cfg,
		log:     log,
		store:   st,
		handler: h,
		http:    server.NewHTTPServer(cfg.Addr, h),
	}, nil
}

// Handler returns the app's whole HTTP surface.
func (a *App) Handler() http.Handler { return a.handler }

// Server returns the configured http.Server, not yet serving.
func (a *App) Server() *http.Server { return a.http }

// Run serves on the configured address until ctx ends, then shuts down.
func (a *App) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (FOXHOLE_ADDR): %w", a.cfg.Addr, err)
	}
	return a.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then drains in-flight calls for at most
// the configured shutdown timeout and closes the backends.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	a.log.Info().Str("addr", ln.Addr().String()).Str("data_dir", a.cfg.DataDir).Msg("serving")
	errc := make(chan error, 1)
	go func() { errc <- a.http.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(err, a.Close())
	case <-ctx.Done():
	}
	a.log.Info().Msg("shutting down: draining in-flight calls")
	a.handler.SetDraining()
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	err := a.http.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		a.log.Warn().Dur("timeout", a.cfg.ShutdownTimeout).Msg("drain timed out; closing remaining connections")
		err = a.http.Close()
	}
	<-errc
	err = errors.Join(err, a.Close())
	a.log.Info().Msg("stopped")
	return err
}

// Close releases the backends. Call it once, after serving has stopped.
func (a *App) Close() error {
	return a.store.Close()
}
