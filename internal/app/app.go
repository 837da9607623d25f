// Package app picks Foxhole's backends from the configuration, builds the
// services on them, and owns the order in which they start and stop.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"foxhole.dev/foxhole/internal/account"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/avatar"
	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/blob/local"
	"foxhole.dev/foxhole/internal/blob/s3"
	"foxhole.dev/foxhole/internal/buildinfo"
	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/certs"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/files"
	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/metrics"
	"foxhole.dev/foxhole/internal/profile"
	"foxhole.dev/foxhole/internal/pubsub"
	"foxhole.dev/foxhole/internal/ratelimit"
	"foxhole.dev/foxhole/internal/realtime"
	"foxhole.dev/foxhole/internal/realtime/ws"
	"foxhole.dev/foxhole/internal/rooms"
	"foxhole.dev/foxhole/internal/server"
	"foxhole.dev/foxhole/internal/store"
	"foxhole.dev/foxhole/internal/tracing"
	"foxhole.dev/foxhole/internal/valkey"
)

// App is one running Foxhole.
type App struct {
	cfg         config.Config
	log         zerolog.Logger
	store       *store.Store
	shared      shared // cache, hub and limiters
	files       *files.Service
	blobs       blob.Store
	accounts    *account.Service
	realtime    *realtime.Service
	auth        *auth.Service
	rooms       *rooms.Service
	localBlobs  *local.Store // nil when files live in S3
	s3Blobs     *s3.Store    // nil when files live on the local disk
	handler     *server.Handler
	http        *http.Server
	metrics     *metrics.Metrics            // nil: FOXHOLE_METRICS_ADDR is unset
	tracer      trace.TracerProvider        // nil: tracing is off
	stopTracing func(context.Context) error // flushes the exporter; nil: none started here

	stopBackground context.CancelFunc // ends background work such as the file sweep
	wg             sync.WaitGroup
	closeOnce      sync.Once
	closeErr       error
}

// New opens the backends named by cfg and builds the services, ready to
// serve, with their background work (sweeps, expiry, pruning) running.
func New(ctx context.Context, cfg config.Config, log zerolog.Logger) (*App, error) {
	return build(ctx, cfg, log, true)
}

// build is New; with serving false (an operator's command beside the
// processes that serve) it starts no background work and removes no
// temp files.
func build(ctx context.Context, cfg config.Config, log zerolog.Logger, serving bool) (*App, error) {
	if err := cfg.CheckShared(); err != nil {
		return nil, err
	}
	key := cfg.JWTSecret
	if len(key) == 0 {
		var err error
		if key, err = auth.LoadOrCreateKey(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sh, err := openShared(ctx, cfg, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	a := &App{cfg: cfg, log: log, store: st, shared: sh}
	if cfg.Tracing {
		// An exporter named by OTEL_* installs the global provider; none
		// (a test's) uses the one installed already.
		if cfg.TracingExporter != "" {
			shutdown, err := tracing.Start(ctx, cfg.TracingExporter)
			if err != nil {
				a.Close()
				return nil, fmt.Errorf("traces (OTEL_*): %w", err)
			}
			a.stopTracing = shutdown
		}
		a.tracer = otel.GetTracerProvider()
		system := "sqlite"
		if st.Postgres() {
			system = "postgresql"
		}
		st.AddQueryHook(tracing.NewQueryHook(a.tracer, system))
	}
	if cfg.MetricsAddr != "" {
		b := buildinfo.Get()
		a.metrics = metrics.New(metrics.Build{Version: b.Version, Commit: b.Commit})
		w, r := st.Pools()
		a.metrics.DB("writer", w)
		if r != w {
			a.metrics.DB("reader", r)
		}
		sh.cache = a.metrics.Cache(sh.cache)
		if sh.reachable != nil {
			a.metrics.Gauge("foxhole_valkey_up", "1 while Valkey answers, 0 while its breaker keeps calls off it.", func() float64 {
				if sh.reachable() {
					return 1
				}
				return 0
			})
		}
	}
	// Only the database takes the process out of service: without Valkey
	// or the object store it still serves what it can, and their outage
	// would otherwise take every process out at once. /readyz names them.
	checks := map[string]func(context.Context) error{"database": st.Ping}
	reported := map[string]func(context.Context) error{}
	if sh.ping != nil {
		reported["cache"] = sh.ping
	}

	fileOpts := files.Options{
		UnaryMaxBytes:       cfg.FileUnaryMaxBytes,
		MaxBytes:            cfg.FileMaxBytes,
		Quota:               cfg.FileQuotaBytes,
		MaxCount:            cfg.FileMaxCount,
		MinCharge:           cfg.FileMinCharge,
		MaxUploadsPerUser:   cfg.MaxUploadsPerUser,
		MaxUploads:          cfg.MaxUploads,
		MaxDownloadsPerUser: cfg.MaxDownloadsUser,
		MaxDownloads:        cfg.MaxDownloads,
		MinRate:             cfg.TransferMinRate,
		RateWindow:          cfg.TransferWindow,
		UploadIdleTimeout:   cfg.UploadIdleTimeout,
		DownloadTimeout:     cfg.DownloadTimeout,
		URLTTL:              cfg.DownloadURLTTL,
		UploadExpiry:        cfg.UploadExpiry,
		MaxPendingUploads:   cfg.MaxPendingUploads,
		MaxSharesPerUser:    cfg.MaxSharesPerUser,
	}
	var blobs blob.Store
	if cfg.S3.Endpoint != "" {
		s, err := s3.New(ctx, s3.Options{
			Endpoint: cfg.S3.Endpoint, AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey,
			Bucket: cfg.S3.Bucket, Secure: cfg.S3.Secure, MaxObjectBytes: cfg.FileMaxBytes,
		})
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("object store (FOXHOLE_S3_ENDPOINT): %w", err)
		}
		blobs, reported["object_store"], a.s3Blobs = s, s.Ping, s
	} else {
		l, err := local.New(filepath.Join(cfg.DataDir, "blobs"), deriveKey(key, "download urls"))
		if err != nil {
			a.Close()
			return nil, err
		}
		blobs, fileOpts.Verifier, a.localBlobs = l, l, l
		// Before serving, so that no upload of this process is running: the
		// temp files of uploads a crash cut off go at once, before /readyz
		// says ready. Later sweeps run beside uploads, which hold locks.
		if serving {
			if n, err := l.RemoveStaleTemp(); err != nil {
				log.Warn().Err(err).Msg("remove temp files of interrupted uploads")
			} else if n > 0 {
				log.Info().Int("removed", n).Msg("removed temp files of interrupted uploads")
			}
		}
	}
	if a.metrics != nil {
		blobs = a.metrics.Blobs(blobs)
	}
	if a.tracer != nil {
		kind := "local"
		if a.s3Blobs != nil {
			kind = "s3"
		}
		blobs = tracing.Blobs(a.tracer, kind, blobs)
	}
	authSvc := auth.NewService(st, auth.NewTokens(key, cfg.TokenTTL), sh.cache)
	a.realtime = realtime.NewService(st, sh.hub, realtime.Options{
		OnRevoke:        authSvc.Revoked, // other processes' rotations, refused here at once
		Heartbeat:       cfg.Heartbeat,
		QueueSize:       cfg.SubscriberQueue,
		MaxMessageChars: cfg.MessageMaxChars,
		RetainCount:     cfg.EventRetainCount,
		RetainAge:       cfg.EventRetainAge,
		Limiter:         sh.limiter("message", cfg.MessageRate, cfg.MessageBurst),
		MaxBlocks:       cfg.MaxBlocks,
		MaxSessionsUser: cfg.MaxSessionsUser,
		MaxSessionsAddr: cfg.MaxSessionsAddr,

		PresenceInterval:    cfg.PresenceInterval,
		PresenceSnapshotMax: cfg.PresenceSnapshotMax,
		Metrics:             a.realtimeMetrics(),
		RevocationCheck:     cfg.RevocationCheck,
		RevocationRetryFor:  cfg.TokenTTL + time.Minute, // past it, the revoked tokens have expired
	}, log)
	fileOpts.Events = a.realtime
	roomSvc := rooms.NewService(st, a.realtime, rooms.Options{
		MaxRoomsPerUser: cfg.MaxRoomsPerUser,
		MaxMembers:      cfg.MaxRoomMembers,
		MaxName:         cfg.MaxRoomName,
		MaxTopic:        cfg.MaxRoomTopic,
	})
	a.files = files.NewService(st, blobs, fileOpts)
	a.blobs = blobs

	// A rotation ends the user's open sessions, through the hub in every process.
	authSvc.OnRotate = a.realtime.Revoke
	profileSvc := profile.NewService(st, sh.cache)
	profileSvc.MaxAttributesBytes = cfg.Accounts.AttributesMaxBytes
	avatars := avatar.NewService(st, blobs, avatar.Options{
		MaxBytes: cfg.Accounts.AvatarMaxBytes, MaxSide: cfg.Accounts.AvatarMaxSide, OnChange: profileSvc.Forget,
	})
	a.accounts = account.NewService(st, a.files, roomSvc, avatars, blobs, account.Options{
		MaxExportsPerUser: cfg.Accounts.MaxExportsPerUser, OnErased: profileSvc.Forget,
	})
	authSvc.Erase = a.accounts.Erase
	a.handler = server.New(server.Options{
		Log:      log,
		Auth:     authSvc,
		Profile:  profileSvc,
		Files:    a.files,
		Realtime: a.realtime,
		Rooms:    roomSvc,
		Avatars:  avatars,
		Accounts: a.accounts,
		WebSocket: ws.Options{
			OriginPatterns: cfg.WSOrigins,
			MaxFrameBytes:  cfg.WSMaxFrameBytes,
			PingInterval:   cfg.WSPingInterval,
		},
		FileUnaryMaxBytes: cfg.FileUnaryMaxBytes,
		FileMaxBytes:      cfg.FileMaxBytes,
		UploadIdleTimeout: cfg.UploadIdleTimeout,
		MessageMaxChars:   cfg.MessageMaxChars,
		PublicURL:         cfg.PublicURL,
		Checks:            checks,
		Reported:          reported,
		CORSOrigins:       cfg.CORSOrigins,
		MaxRequestBytes:   cfg.MaxRequestBytes,
		TrustedProxies:    cfg.TrustedProxies,
		AuthLimiter:       authLimiter(cfg, sh),
		Register:          registerLimits(cfg, sh),
		ListLimiter:       sh.limiter("list", cfg.ListRate, cfg.ListBurst),
		RoomCreateLimiter: sh.limiter("roomcreate", cfg.RoomCreateRate, cfg.RoomCreateBurst),
		RoomInviteLimiter: sh.limiter("roominvite", cfg.RoomInviteRate, cfg.RoomInviteBurst),
		TypingLimiter:     sh.limiter("typing", cfg.TypingRate, cfg.TypingBurst),
		AllowPerUser:      a.realtime.AllowMessage,
		MaxProbeStreams:   cfg.MaxProbeStreams,
		OnCall:            a.onCall(),
		Tracer:            a.tracer,
	})
	a.http = server.NewHTTPServer(cfg.Addr, a.handler)
	tc, err := certs.Config(certs.Options{
		CertFile: cfg.TLSCertFile, KeyFile: cfg.TLSKeyFile,
		Domains: cfg.TLSDomains, Directory: cfg.ACMEDirectory, Email: cfg.ACMEEmail, CAFile: cfg.ACMECAFile,
		CacheDir: certs.CacheDir(cfg.DataDir), Log: log,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.http.TLSConfig = tc
	// net/http's own complaints go to the log as JSON lines: failed TLS
	// handshakes (scanners, clients that distrust the certificate) at
	// debug level, the rest as warnings.
	a.http.ErrorLog = stdlog.New(httpErrorLog{log}, "", 0)

	a.auth, a.rooms = authSvc, roomSvc
	if !serving {
		return a, nil
	}
	var bg context.Context
	bg, a.stopBackground = context.WithCancel(context.Background())
	a.wg.Go(func() { a.sweepFiles(bg) })
	a.wg.Go(func() { a.expireUploads(bg) })
	a.wg.Go(func() { a.pruneEvents(bg) })
	// Deletions a stop cut off are finished at start and every minute.
	a.wg.Go(func() { a.accounts.RunPending(bg, time.Minute, log) })
	if cfg.UnusedAccountTTL > 0 {
		a.wg.Go(func() { a.expireUnused(bg, cfg.UnusedAccountTTL) })
	}
	return a, nil
}

// openStore opens PostgreSQL when FOXHOLE_DATABASE_URL names one, shared
// by every process, and the SQLite file in the data dir otherwise.
func openStore(ctx context.Context, cfg config.Config) (*store.Store, error) {
	if cfg.DatabaseURL != "" {
		st, err := store.OpenPostgres(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("database (FOXHOLE_DATABASE_URL): %w", err)
		}
		return st, nil
	}
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return st, nil
}

// authLimiter bounds Register and CreateToken per client address, or is
// nil when FOXHOLE_AUTH_RATE is 0.
func authLimiter(cfg config.Config, sh shared) ratelimit.Limiter {
	if cfg.AuthRate == 0 {
		return nil
	}
	return sh.limiter("auth", cfg.AuthRate, cfg.AuthBurst)
}

// registerLimits bound Register past the limit per client address, unless
// FOXHOLE_AUTH_RATE=0 turns every limit on Register and CreateToken off.
func registerLimits(cfg config.Config, sh shared) server.RegisterLimits {
	if cfg.AuthRate == 0 {
		return server.RegisterLimits{}
	}
	return server.RegisterLimits{
		Per56:  limiterOrNil(sh, "register56", cfg.RegisterRate56, cfg.RegisterBurst56),
		Per48:  limiterOrNil(sh, "register48", cfg.RegisterRate48, cfg.RegisterBurst48),
		Global: limiterOrNil(sh, "registerall", cfg.RegisterRateGlobal, cfg.RegisterBurstGlobal),
	}
}

// limiterOrNil is a limiter of rate and burst, or nil (no limit) when rate
// is 0.
func limiterOrNil(sh shared, name string, rate float64, burst int) ratelimit.Limiter {
	if rate == 0 {
		return nil
	}
	return sh.limiter(name, rate, burst)
}

// shared are the backends that several processes share through Valkey
// when FOXHOLE_VALKEY_URL is set, and that live in this process otherwise.
type shared struct {
	cache   cache.Cache
	hub     pubsub.Hub
	limiter func(name string, rate float64, burst int) ratelimit.Limiter
	ping    func(context.Context) error // nil in process
	// reachable reports whether Valkey answers; nil in process.
	reachable func() bool
	close     func() error
}

func openShared(ctx context.Context, cfg config.Config, log zerolog.Logger) (shared, error) {
	if cfg.ValkeyURL == "" {
		var c cache.Cache = cache.None{}
		if cfg.CacheEntries > 0 {
			c = inmem.NewCache(cfg.CacheEntries)
		}
		return shared{
			cache: c,
			hub:   inmem.NewHub(),
			limiter: func(_ string, rate float64, burst int) ratelimit.Limiter {
				return inmem.NewLimiter(rate, burst)
			},
			close: func() error { return nil },
		}, nil
	}
	c, err := valkey.New(ctx, valkey.Options{URL: cfg.ValkeyURL, Log: log})
	if err != nil {
		return shared{}, fmt.Errorf("FOXHOLE_VALKEY_URL: %w", err)
	}
	return shared{
		cache: c,
		hub:   c,
		limiter: func(name string, rate float64, burst int) ratelimit.Limiter {
			return c.NewLimiter(name, rate, burst)
		},
		ping:      c.Ping,
		reachable: c.Reachable,
		close:     c.Close,
	}, nil
}

// deriveKey returns a key for one purpose from the master signing key, so
// that no two mechanisms share a key.
func deriveKey(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("foxhole " + purpose))
	return m.Sum(nil)
}

// sweepFiles removes file content left without metadata by a crash, and
// temp files of uploads whose writer is gone, at start and then every hour.
// Content younger than grace is left alone: it may be a failed upload's
// whose own clean-up is still under way.
func (a *App) sweepFiles(ctx context.Context) {
	const grace = time.Hour
	for {
		n, err := a.files.Sweep(ctx, grace)
		if a.localBlobs != nil {
			t, terr := a.localBlobs.RemoveStaleTemp()
			n, err = n+t, errors.Join(err, terr)
		}
		if a.s3Blobs != nil {
			// The parts of multipart uploads a crashed process left.
			t, terr := a.s3Blobs.RemoveStaleUploads(ctx, a.cfg.S3StaleUploadAge)
			n, err = n+t, errors.Join(err, terr)
		}
		if err != nil && ctx.Err() == nil {
			a.log.Warn().Err(err).Msg("file sweep")
		} else if n > 0 {
			a.log.Info().Int("removed", n).Msg("file sweep removed orphaned content")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// expireUploads removes unfinished resumable uploads past their expiry,
// with their bytes, checking at least every minute.
func (a *App) expireUploads(ctx context.Context) {
	every := min(time.Minute, max(time.Second, a.cfg.UploadExpiry/4))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if n, err := a.files.ExpireResumables(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn().Err(err).Msg("expire unfinished uploads")
		} else if n > 0 {
			a.log.Info().Int("removed", n).Msg("removed expired unfinished uploads")
		}
	}
}

// pruneEvents keeps stored events within the retention limits, checking
// every minute.
func (a *App) pruneEvents(ctx context.Context) {
	for {
		if n, err := a.realtime.Prune(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn().Err(err).Msg("prune events")
		} else if n > 0 {
			a.log.Debug().Int64("removed", n).Msg("pruned events")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}

// expireUnused removes the accounts never used (no access token ever
// created for them) older than ttl, at start and then every tenth of ttl,
// at most an hour apart. Every process sweeps; a second sweep of the same
// accounts finds none.
func (a *App) expireUnused(ctx context.Context, ttl time.Duration) {
	every := min(ttl/10, time.Hour)
	for {
		cutoff := time.Now().Add(-ttl).UnixMicro()
		if n, err := a.store.DeleteUnusedUsers(ctx, cutoff); err != nil && ctx.Err() == nil {
			a.log.Warn().Err(err).Msg("expire unused accounts")
		} else if n > 0 {
			a.log.Info().Int64("removed", n).Msg("expired unused accounts")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// httpErrorLog writes net/http's error log lines into the log.
type httpErrorLog struct{ log zerolog.Logger }

func (l httpErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	ev := l.log.Warn()
	if strings.Contains(msg, "TLS handshake error") {
		ev = l.log.Debug()
	}
	ev.Str("component", "net/http").Msg(msg)
	return len(p), nil
}

// realtimeMetrics are the realtime service's hooks, nil without metrics.
func (a *App) realtimeMetrics() realtime.Metrics {
	if a.metrics == nil {
		return nil
	}
	return a.metrics.Realtime()
}

// onCall records every call's end in the metrics, nil without them.
func (a *App) onCall() server.OnCall {
	if a.metrics == nil {
		return nil
	}
	return a.metrics.Call
}

// Metrics returns the process's metrics, nil when FOXHOLE_METRICS_ADDR is
// unset.
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// Handler returns the app's whole HTTP surface.
func (a *App) Handler() http.Handler { return a.handler }

// Blobs returns the object store (for tests that look at what it holds).
func (a *App) Blobs() blob.Store { return a.blobs }

// Accounts returns the account service (for tests of deletions).
func (a *App) Accounts() *account.Service { return a.accounts }

// Store returns the database (for tests that look at what it holds).
func (a *App) Store() *store.Store { return a.store }

// Server returns the configured http.Server, not yet serving.
func (a *App) Server() *http.Server { return a.http }

// Realtime returns the realtime service, for benchmarks that drive its
// fan-out directly.
func (a *App) Realtime() *realtime.Service { return a.realtime }

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
	if a.metrics != nil {
		mctx, stopMetrics := context.WithCancel(context.Background())
		defer stopMetrics()
		go func() {
			a.log.Info().Str("addr", a.cfg.MetricsAddr).Msg("serving metrics")
			if err := a.metrics.Serve(mctx, a.cfg.MetricsAddr); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error().Err(err).Str("addr", a.cfg.MetricsAddr).Msg("metrics listener (FOXHOLE_METRICS_ADDR)")
			}
		}()
	}
	tlsOn := a.http.TLSConfig != nil
	a.log.Info().Str("addr", ln.Addr().String()).Str("data_dir", a.cfg.DataDir).Bool("tls", tlsOn).Msg("serving")
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			// The certificate comes from TLSConfig.GetCertificate.
			errc <- a.http.ServeTLS(ln, "", "")
			return
		}
		errc <- a.http.Serve(ln)
	}()
	select {
	case err := <-errc:
		return errors.Join(err, a.Close())
	case <-ctx.Done():
	}
	a.log.Info().Msg("shutting down: draining in-flight calls")
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	// Sessions may take half the budget to flush; the rest is kept for the
	// unary calls in flight, which are what clients wait on.
	ectx, ecancel := context.WithTimeout(sctx, a.cfg.ShutdownTimeout/2)
	if err := a.EndSessions(ectx); err != nil {
		a.log.Warn().Err(err).Msg("sessions did not all end in half the shutdown budget")
	}
	ecancel()
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

// EndSessions marks the server as draining (/readyz answers 503) and ends
// every stream and WebSocket, which never go idle by themselves; each
// flushes what it has queued first. It returns when they have ended or ctx
// does.
func (a *App) EndSessions(ctx context.Context) error {
	a.handler.SetDraining()
	return a.realtime.Shutdown(ctx)
}

// Close stops background work and releases the backends, after serving
// has stopped. Later calls do nothing.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		if a.stopBackground != nil {
			a.stopBackground()
		}
		a.wg.Wait()
		a.closeErr = errors.Join(a.shared.close(), a.store.Close())
		if a.stopTracing != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a.closeErr = errors.Join(a.closeErr, a.stopTracing(ctx))
		}
	})
	return a.closeErr
}
