// Package config turns the environment into one validated Config.
// Nothing else in Foxhole reads the environment.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Config is Foxhole's whole configuration, validated once at start.
type Config struct {
	Addr    string // FOXHOLE_ADDR: listen address.
	DataDir string // FOXHOLE_DATA_DIR: database, blobs and the signing key.

	// JWTSecret signs access tokens (FOXHOLE_JWT_SECRET). Empty: a key is
	// generated once and kept in DataDir.
	JWTSecret []byte
	TokenTTL  time.Duration // FOXHOLE_TOKEN_TTL: access token lifetime.

	CORSOrigins []string // FOXHOLE_CORS_ORIGINS: comma-separated browser origins.
	// MaxRequestBytes bounds the request message of every RPC but the
	// uploads and SendMessage, which get room for their content
	// (FOXHOLE_MAX_REQUEST_BYTES).
	MaxRequestBytes int64
	ShutdownTimeout time.Duration // FOXHOLE_SHUTDOWN_TIMEOUT: how long draining may take.

	AuthRate  float64 // FOXHOLE_AUTH_RATE: Register and CreateToken calls per second per client address; 0: no limit, nor any of the Register limits below.
	AuthBurst int     // FOXHOLE_AUTH_BURST: and in a burst.
	// Register is limited, past the limit per client address above, per
	// IPv6 /56, per IPv6 /48 and across all callers (FOXHOLE_REGISTER_*:
	// calls per second, and in a burst; a rate of 0 turns that limit off).
	RegisterRate56, RegisterRate48, RegisterRateGlobal    float64
	RegisterBurst56, RegisterBurst48, RegisterBurstGlobal int
	// UnusedAccountTTL is how long an account for which no access token was
	// ever created is kept (FOXHOLE_UNUSED_ACCOUNT_TTL); 0: forever.
	UnusedAccountTTL time.Duration
	ListRate         float64 // FOXHOLE_LIST_RATE: ListPresence calls per second per user.
	ListBurst        int     // FOXHOLE_LIST_BURST: and in a burst.
	// Rooms: FOXHOLE_MAX_ROOMS_PER_USER, FOXHOLE_MAX_ROOM_MEMBERS,
	// FOXHOLE_MAX_ROOM_NAME and FOXHOLE_MAX_ROOM_TOPIC (characters), and
	// the rates per user of room creations (FOXHOLE_ROOM_CREATE_RATE and
	// _BURST) and invitations (FOXHOLE_ROOM_INVITE_RATE and _BURST).
	MaxRoomsPerUser, MaxRoomMembers, MaxRoomName, MaxRoomTopic int
	RoomCreateRate, RoomInviteRate                             float64
	RoomCreateBurst, RoomInviteBurst                           int
	// MaxBlocks bounds the users a user may block (FOXHOLE_MAX_BLOCKS);
	// typing notifications are limited per user (FOXHOLE_TYPING_RATE and
	// _BURST).
	MaxBlocks   int
	TypingRate  float64
	TypingBurst int
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (FOXHOLE_TRUSTED_PROXIES, comma-separated CIDRs).
	TrustedProxies []netip.Prefix
	// MaxProbeStreams bounds the health Watch and reflection streams open
	// at once (FOXHOLE_MAX_PROBE_STREAMS).
	MaxProbeStreams int

	// PprofAddr serves net/http/pprof on its own listener
	// (FOXHOLE_PPROF_ADDR, e.g. 127.0.0.1:6060). Empty: off.
	PprofAddr string
	// GCHeapFloor is how much the heap may grow between two collections
	// at least (FOXHOLE_GC_HEAP_FLOOR); 0: Go's default pace. Unused when
	// GOGC is set.
	GCHeapFloor int64

	LogLevel  string // FOXHOLE_LOG_LEVEL: debug, info, warn or error.
	LogFormat string // FOXHOLE_LOG_FORMAT: json, console, or auto (console on a terminal).

	// PublicURL is the scheme and host clients reach Foxhole at
	// (FOXHOLE_PUBLIC_URL), for download links. Empty: taken from each request.
	PublicURL string

	FileUnaryMaxBytes int64         // FOXHOLE_FILE_UNARY_MAX_BYTES: largest UploadFile content.
	FileMaxBytes      int64         // FOXHOLE_FILE_MAX_BYTES: largest file on any path.
	FileQuotaBytes    int64         // FOXHOLE_FILE_QUOTA_BYTES: total per user; 0 is unlimited.
	FileMaxCount      int           // FOXHOLE_FILE_MAX_COUNT: files per user; 0 is unlimited.
	FileMinCharge     int64         // FOXHOLE_FILE_MIN_CHARGE_BYTES: what the quota charges for a smaller file, an empty one included.
	DownloadURLTTL    time.Duration // FOXHOLE_DOWNLOAD_URL_TTL: lifetime of download URLs.
	MaxUploadsPerUser int           // FOXHOLE_MAX_UPLOADS_PER_USER: uploads in progress at once per user.
	UploadIdleTimeout time.Duration // FOXHOLE_UPLOAD_IDLE_TIMEOUT: longest wait for the next bytes of an upload.
	DownloadTimeout   time.Duration // FOXHOLE_DOWNLOAD_WRITE_TIMEOUT: longest a client may take to accept one chunk of a download.
	MaxUploads        int           // FOXHOLE_MAX_UPLOADS: uploads in progress at once in one process.
	MaxDownloads      int           // FOXHOLE_MAX_DOWNLOADS: downloads in progress at once in one process.
	MaxDownloadsUser  int           // FOXHOLE_MAX_DOWNLOADS_PER_USER: downloads in progress at once per file owner, signed links included.
	TransferMinRate   int64         // FOXHOLE_TRANSFER_MIN_RATE: bytes per second every upload and download must move; 0: no minimum.
	TransferWindow    time.Duration // FOXHOLE_TRANSFER_RATE_WINDOW: the window that rate is measured over, the first one a grace period.
	S3StaleUploadAge  time.Duration // FOXHOLE_S3_STALE_UPLOAD_AGE: multipart uploads older than this are taken for a crashed process's and removed.
	UploadExpiry      time.Duration // FOXHOLE_UPLOAD_EXPIRY: an unfinished resumable (tus) upload is removed this long after its last bytes.
	MaxPendingUploads int           // FOXHOLE_UPLOAD_MAX_PENDING: unfinished resumable uploads per user.
	MaxSharesPerUser  int           // FOXHOLE_MAX_SHARES_PER_USER: live share links per user.

	Heartbeat        time.Duration // FOXHOLE_HEARTBEAT_INTERVAL: between heartbeats on idle streams.
	SubscriberQueue  int           // FOXHOLE_SUBSCRIBER_QUEUE: events queued per subscriber; past them it catches up from the database.
	PresenceInterval time.Duration // FOXHOLE_PRESENCE_INTERVAL: presence changes are gathered this long, then sent as one event.
	RevocationCheck  time.Duration // FOXHOLE_REVOCATION_CHECK: how often open sessions' token versions are read back from the database.
	MessageMaxChars  int           // FOXHOLE_MESSAGE_MAX_CHARS: longest chat message.
	MessageRate      float64       // FOXHOLE_MESSAGE_RATE: chat messages per second per user.
	MessageBurst     int           // FOXHOLE_MESSAGE_BURST: and in a burst.
	// PresenceSnapshotMax bounds the users one presence snapshot names
	// (FOXHOLE_PRESENCE_SNAPSHOT_MAX); past it the snapshot is truncated
	// and clients page ListPresence for the rest.
	PresenceSnapshotMax int
	EventRetainCount    int           // FOXHOLE_EVENT_RETENTION_COUNT: stored events kept.
	EventRetainAge      time.Duration // FOXHOLE_EVENT_RETENTION_AGE: and for how long.
	WSOrigins           []string      // FOXHOLE_WS_ORIGINS: cross-origin hosts allowed on /ws.
	WSMaxFrameBytes     int64         // FOXHOLE_WS_MAX_FRAME_BYTES: largest frame a client may send.
	WSPingInterval      time.Duration // FOXHOLE_WS_PING_INTERVAL: between pings; one unanswered drops the peer.
	MaxSessionsUser     int           // FOXHOLE_MAX_SESSIONS_PER_USER: open streams and WebSockets per user.
	MaxSessionsAddr     int           // FOXHOLE_MAX_SESSIONS_PER_ADDR: and per client address.

	ValkeyURL string // FOXHOLE_VALKEY_URL: empty for the in-process cache and hub.
	// DatabaseURL is the PostgreSQL database shared by several processes
	// (FOXHOLE_DATABASE_URL, postgres://user:pass@host:5432/db). Empty:
	// SQLite in DataDir.
	DatabaseURL string
	// AllowSingleProcess lets a process use PostgreSQL without Valkey
	// (FOXHOLE_ALLOW_SINGLE_PROCESS=1): presence, rate limits and revocation
	// are then this process's alone, so only one process may serve.
	AllowSingleProcess bool
	// CacheEntries bounds the in-process cache (FOXHOLE_CACHE_ENTRIES); 0
	// turns it off. Unused with Valkey, whose client-side cache is bounded
	// in bytes.
	CacheEntries int
	S3           S3 // FOXHOLE_S3_*: empty endpoint for the local disk.

	Ops      // TLS, metrics and traces
	Accounts Accounts
}

// Ops is how the server is run in production: TLS, metrics and traces.
type Ops struct {
	// TLSCertFile and TLSKeyFile serve TLS with a certificate from files,
	// read again when they change (FOXHOLE_TLS_CERT_FILE, FOXHOLE_TLS_KEY_FILE).
	TLSCertFile, TLSKeyFile string
	// TLSDomains get certificates from an ACME CA (FOXHOLE_TLS_DOMAINS,
	// comma-separated), cached in DataDir/acme.
	TLSDomains    []string
	ACMEDirectory string // FOXHOLE_ACME_DIRECTORY: the CA's directory URL; empty: Let's Encrypt.
	ACMEEmail     string // FOXHOLE_ACME_EMAIL: the account's contact, optional.
	ACMECAFile    string // FOXHOLE_ACME_CA_FILE: roots for the directory's HTTPS (a private ACME CA).
	// MetricsAddr serves GET /metrics on its own listener
	// (FOXHOLE_METRICS_ADDR); empty: off.
	MetricsAddr string
	// Tracing is on when the standard OTEL_* variables ask for traces
	// (an OTLP endpoint, or OTEL_TRACES_EXPORTER=otlp or console), unless
	// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. The SDK reads
	// the other OTEL_* variables itself.
	Tracing         bool
	TracingExporter string // otlp or console
}

// Accounts bounds profiles, avatars and exports.
type Accounts struct {
	AttributesMaxBytes int64 // FOXHOLE_PROFILE_ATTRIBUTES_MAX_BYTES: a profile's attributes, as JSON.
	AvatarMaxBytes     int64 // FOXHOLE_AVATAR_MAX_BYTES: an avatar upload.
	AvatarMaxSide      int   // FOXHOLE_AVATAR_MAX_SIDE: an avatar's width and height, in pixels.
	MaxExportsPerUser  int   // FOXHOLE_MAX_EXPORTS_PER_USER: exports of one user at once, per process.
}

// S3 locates an S3-compatible object store such as MinIO.
type S3 struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Secure    bool
}

// Default returns the configuration used when the environment sets nothing.
func Default() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DataDir:         "./data",
		TokenTTL:        time.Hour,
		MaxRequestBytes: 8 << 10,
		ShutdownTimeout: 15 * time.Second,
		AuthRate:        1,
		AuthBurst:       30,
		// Room for an office behind one address or prefix; the global rate
		// bounds what any number of prefixes can make.
		RegisterRate56:      0.1,
		RegisterBurst56:     100,
		RegisterRate48:      0.2,
		RegisterBurst48:     200,
		RegisterRateGlobal:  5,
		RegisterBurstGlobal: 500,
		UnusedAccountTTL:    7 * 24 * time.Hour,
		ListRate:            2,
		ListBurst:           20,
		MaxRoomsPerUser:     500,
		MaxRoomMembers:      10000,
		MaxRoomName:         100,
		MaxRoomTopic:        1000,
		RoomCreateRate:      0.1,
		RoomCreateBurst:     10,
		RoomInviteRate:      1,
		RoomInviteBurst:     50,
		MaxBlocks:           1000,
		TypingRate:          1,
		TypingBurst:         5,
		PresenceSnapshotMax: 1000,
		MaxProbeStreams:     64,
		LogLevel:            "info",
		LogFormat:           "auto",
		FileUnaryMaxBytes:   4 << 20,
		FileMaxBytes:        1 << 30,
		FileQuotaBytes:      2 << 30,
		FileMaxCount:        10_000,
		FileMinCharge:       4 << 10,
		DownloadURLTTL:      15 * time.Minute,
		MaxUploadsPerUser:   4,
		UploadIdleTimeout:   30 * time.Second,
		DownloadTimeout:     30 * time.Second,
		MaxUploads:          64,
		MaxDownloads:        256,
		MaxDownloadsUser:    16,
		TransferMinRate:     1 << 10,
		TransferWindow:      time.Minute,
		S3StaleUploadAge:    24 * time.Hour,
		GCHeapFloor:         64 << 20,
		UploadExpiry:        24 * time.Hour,
		MaxPendingUploads:   32,
		MaxSharesPerUser:    1000,
		Heartbeat:           15 * time.Second,
		SubscriberQueue:     256,
		PresenceInterval:    time.Second,
		RevocationCheck:     2 * time.Second,
		MessageMaxChars:     4096,
		MessageRate:         10,
		MessageBurst:        20,
		EventRetainCount:    10000,
		EventRetainAge:      30 * 24 * time.Hour,
		WSOrigins:           []string{"localhost:*", "127.0.0.1:*", "[::1]:*"},
		WSMaxFrameBytes:     64 << 10,
		WSPingInterval:      20 * time.Second,
		MaxSessionsUser:     32,
		MaxSessionsAddr:     256,
		CacheEntries:        100_000,
		S3:                  S3{Bucket: "foxhole"},
		Accounts:            Accounts{AttributesMaxBytes: 4 << 10, AvatarMaxBytes: 5 << 20, AvatarMaxSide: 4096, MaxExportsPerUser: 1},
	}
}

// Load reads the configuration through getenv (os.Getenv in production).
// The error names the first bad variable and what is wrong with it, on one line.
func Load(getenv func(string) string) (Config, error) {
	c := Default()
	p := parser{getenv: getenv}

	p.str("FOXHOLE_ADDR", &c.Addr)
	p.str("FOXHOLE_DATA_DIR", &c.DataDir)
	if s := getenv("FOXHOLE_JWT_SECRET"); s != "" {
		if len(s) < 32 {
			p.fail("FOXHOLE_JWT_SECRET", "must be at least 32 bytes long")
		}
		c.JWTSecret = []byte(s)
	}
	p.duration("FOXHOLE_TOKEN_TTL", &c.TokenTTL, time.Minute, 30*24*time.Hour)
	if s := getenv("FOXHOLE_CORS_ORIGINS"); s != "" {
		for _, o := range strings.Split(s, ",") {
			o = strings.TrimSpace(o)
			if o == "" {
				continue
			}
			if !validOrigin(o) {
				p.fail("FOXHOLE_CORS_ORIGINS", fmt.Sprintf("%q is not an origin like https://app.example.com", o))
			}
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	p.size("FOXHOLE_MAX_REQUEST_BYTES", &c.MaxRequestBytes, 1<<10, 64<<20)
	p.duration("FOXHOLE_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, time.Second, time.Hour)
	p.number("FOXHOLE_AUTH_RATE", &c.AuthRate, 0, 1e6)
	p.integer("FOXHOLE_AUTH_BURST", &c.AuthBurst, 1, 1e6)
	p.number("FOXHOLE_REGISTER_RATE_56", &c.RegisterRate56, 0, 1e6)
	p.integer("FOXHOLE_REGISTER_BURST_56", &c.RegisterBurst56, 1, 1e6)
	p.number("FOXHOLE_REGISTER_RATE_48", &c.RegisterRate48, 0, 1e6)
	p.integer("FOXHOLE_REGISTER_BURST_48", &c.RegisterBurst48, 1, 1e6)
	p.number("FOXHOLE_REGISTER_RATE_GLOBAL", &c.RegisterRateGlobal, 0, 1e6)
	p.integer("FOXHOLE_REGISTER_BURST_GLOBAL", &c.RegisterBurstGlobal, 1, 1e7)
	p.duration("FOXHOLE_UNUSED_ACCOUNT_TTL", &c.UnusedAccountTTL, 0, 10*365*24*time.Hour)
	if c.UnusedAccountTTL > 0 && c.UnusedAccountTTL < time.Hour {
		p.fail("FOXHOLE_UNUSED_ACCOUNT_TTL", "must be 0 (keep unused accounts) or at least 1h")
	}
	p.number("FOXHOLE_LIST_RATE", &c.ListRate, 0.001, 1e6)
	p.integer("FOXHOLE_LIST_BURST", &c.ListBurst, 1, 1e6)
	p.integer("FOXHOLE_MAX_ROOMS_PER_USER", &c.MaxRoomsPerUser, 1, 1e6)
	p.integer("FOXHOLE_MAX_ROOM_MEMBERS", &c.MaxRoomMembers, 2, 1e7)
	p.integer("FOXHOLE_MAX_ROOM_NAME", &c.MaxRoomName, 1, 1000)
	p.integer("FOXHOLE_MAX_ROOM_TOPIC", &c.MaxRoomTopic, 0, 100000)
	p.number("FOXHOLE_ROOM_CREATE_RATE", &c.RoomCreateRate, 0.0001, 1e6)
	p.integer("FOXHOLE_ROOM_CREATE_BURST", &c.RoomCreateBurst, 1, 1e6)
	p.number("FOXHOLE_ROOM_INVITE_RATE", &c.RoomInviteRate, 0.0001, 1e6)
	p.integer("FOXHOLE_ROOM_INVITE_BURST", &c.RoomInviteBurst, 1, 1e6)
	p.integer("FOXHOLE_MAX_BLOCKS", &c.MaxBlocks, 1, 1e6)
	p.number("FOXHOLE_TYPING_RATE", &c.TypingRate, 0.0001, 1e6)
	p.integer("FOXHOLE_TYPING_BURST", &c.TypingBurst, 1, 1e6)
	p.size("FOXHOLE_PROFILE_ATTRIBUTES_MAX_BYTES", &c.Accounts.AttributesMaxBytes, 2, 1<<20)
	p.size("FOXHOLE_AVATAR_MAX_BYTES", &c.Accounts.AvatarMaxBytes, 1<<10, 64<<20)
	p.integer("FOXHOLE_AVATAR_MAX_SIDE", &c.Accounts.AvatarMaxSide, 32, 16384)
	p.integer("FOXHOLE_MAX_EXPORTS_PER_USER", &c.Accounts.MaxExportsPerUser, 1, 100)
	if s := getenv("FOXHOLE_TRUSTED_PROXIES"); s != "" {
		for _, cidr := range strings.Split(s, ",") {
			if cidr = strings.TrimSpace(cidr); cidr == "" {
				continue
			}
			pfx, err := netip.ParsePrefix(cidr)
			if err != nil {
				p.fail("FOXHOLE_TRUSTED_PROXIES", fmt.Sprintf("%q is not a CIDR like 10.0.0.0/8 or 127.0.0.1/32", cidr))
				break
			}
			c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
		}
	}
	p.integer("FOXHOLE_MAX_PROBE_STREAMS", &c.MaxProbeStreams, 1, 1e6)
	p.size("FOXHOLE_GC_HEAP_FLOOR", &c.GCHeapFloor, 0, 1<<40)
	p.str("FOXHOLE_PPROF_ADDR", &c.PprofAddr)
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			p.fail("FOXHOLE_PPROF_ADDR", "must be host:port, e.g. 127.0.0.1:6060")
		}
	}
	p.oneOf("FOXHOLE_LOG_LEVEL", &c.LogLevel, "debug", "info", "warn", "error")
	p.oneOf("FOXHOLE_LOG_FORMAT", &c.LogFormat, "auto", "json", "console")

	if s := getenv("FOXHOLE_PUBLIC_URL"); s != "" {
		if !validOrigin(s) {
			p.fail("FOXHOLE_PUBLIC_URL", fmt.Sprintf("%q is not a base URL like https://api.example.com", s))
		}
		c.PublicURL = strings.TrimSuffix(s, "/")
	}
	p.size("FOXHOLE_FILE_UNARY_MAX_BYTES", &c.FileUnaryMaxBytes, 0, 256<<20)
	p.size("FOXHOLE_FILE_MAX_BYTES", &c.FileMaxBytes, 1, 1<<40)
	p.size("FOXHOLE_FILE_QUOTA_BYTES", &c.FileQuotaBytes, 0, 1<<50)
	p.integer("FOXHOLE_FILE_MAX_COUNT", &c.FileMaxCount, 0, 1<<30)
	p.size("FOXHOLE_FILE_MIN_CHARGE_BYTES", &c.FileMinCharge, 0, 1<<30)
	p.duration("FOXHOLE_DOWNLOAD_URL_TTL", &c.DownloadURLTTL, time.Minute, 7*24*time.Hour)
	p.integer("FOXHOLE_MAX_UPLOADS_PER_USER", &c.MaxUploadsPerUser, 1, 1e6)
	p.duration("FOXHOLE_UPLOAD_IDLE_TIMEOUT", &c.UploadIdleTimeout, time.Second, time.Hour)
	p.duration("FOXHOLE_DOWNLOAD_WRITE_TIMEOUT", &c.DownloadTimeout, time.Second, time.Hour)
	p.integer("FOXHOLE_MAX_UPLOADS", &c.MaxUploads, 1, 1e6)
	p.integer("FOXHOLE_MAX_DOWNLOADS", &c.MaxDownloads, 1, 1e6)
	p.integer("FOXHOLE_MAX_DOWNLOADS_PER_USER", &c.MaxDownloadsUser, 1, 1e6)
	p.size("FOXHOLE_TRANSFER_MIN_RATE", &c.TransferMinRate, 0, 1<<30)
	p.duration("FOXHOLE_TRANSFER_RATE_WINDOW", &c.TransferWindow, time.Second, time.Hour)
	p.duration("FOXHOLE_S3_STALE_UPLOAD_AGE", &c.S3StaleUploadAge, time.Hour, 30*24*time.Hour)
	p.duration("FOXHOLE_UPLOAD_EXPIRY", &c.UploadExpiry, time.Second, 30*24*time.Hour)
	p.integer("FOXHOLE_UPLOAD_MAX_PENDING", &c.MaxPendingUploads, 1, 10_000)
	p.integer("FOXHOLE_MAX_SHARES_PER_USER", &c.MaxSharesPerUser, 1, 1_000_000)

	p.duration("FOXHOLE_HEARTBEAT_INTERVAL", &c.Heartbeat, time.Second, time.Hour)
	p.integer("FOXHOLE_SUBSCRIBER_QUEUE", &c.SubscriberQueue, 8, 1<<20)
	p.duration("FOXHOLE_PRESENCE_INTERVAL", &c.PresenceInterval, 10*time.Millisecond, time.Minute)
	p.duration("FOXHOLE_REVOCATION_CHECK", &c.RevocationCheck, 100*time.Millisecond, 4*time.Second)
	p.integer("FOXHOLE_MESSAGE_MAX_CHARS", &c.MessageMaxChars, 1, 1<<16)
	p.number("FOXHOLE_MESSAGE_RATE", &c.MessageRate, 0.001, 1e6)
	p.integer("FOXHOLE_MESSAGE_BURST", &c.MessageBurst, 1, 1e6)
	p.integer("FOXHOLE_PRESENCE_SNAPSHOT_MAX", &c.PresenceSnapshotMax, 1, 1e6)
	p.integer("FOXHOLE_EVENT_RETENTION_COUNT", &c.EventRetainCount, 1, 1<<30)
	p.duration("FOXHOLE_EVENT_RETENTION_AGE", &c.EventRetainAge, time.Minute, 10*365*24*time.Hour)
	if s := getenv("FOXHOLE_WS_ORIGINS"); s != "" {
		c.WSOrigins = nil
		for _, o := range strings.Split(s, ",") {
			if o = strings.TrimSpace(o); o != "" {
				if _, err := path.Match(o, ""); err != nil || o == "*" {
					p.fail("FOXHOLE_WS_ORIGINS", fmt.Sprintf("%q is not a host pattern like app.example.com or localhost:*", o))
				}
				c.WSOrigins = append(c.WSOrigins, o)
			}
		}
	}
	p.size("FOXHOLE_WS_MAX_FRAME_BYTES", &c.WSMaxFrameBytes, 1<<10, 16<<20)
	p.duration("FOXHOLE_WS_PING_INTERVAL", &c.WSPingInterval, time.Second, time.Hour)
	p.integer("FOXHOLE_MAX_SESSIONS_PER_USER", &c.MaxSessionsUser, 1, 1e6)
	p.integer("FOXHOLE_MAX_SESSIONS_PER_ADDR", &c.MaxSessionsAddr, 1, 1e7)

	if s := getenv("FOXHOLE_VALKEY_URL"); s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			p.fail("FOXHOLE_VALKEY_URL", "must look like redis://host:6379/0")
		}
		c.ValkeyURL = s
	}
	if s := getenv("FOXHOLE_DATABASE_URL"); s != "" {
		// The value is not repeated in the error: it may hold a password.
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" ||
			strings.Trim(u.Path, "/") == "" || strings.ContainsAny(s, " \t\n") {
			p.fail("FOXHOLE_DATABASE_URL", "must look like postgres://user:password@host:5432/foxhole (with the database name)")
		}
		c.DatabaseURL = s
	}
	p.boolean("FOXHOLE_ALLOW_SINGLE_PROCESS", &c.AllowSingleProcess)
	if err := c.CheckShared(); err != nil && p.err == nil {
		p.err = err
	}
	p.integer("FOXHOLE_CACHE_ENTRIES", &c.CacheEntries, 0, 1<<26)
	p.str("FOXHOLE_S3_ENDPOINT", &c.S3.Endpoint)
	p.str("FOXHOLE_S3_ACCESS_KEY", &c.S3.AccessKey)
	p.str("FOXHOLE_S3_SECRET_KEY", &c.S3.SecretKey)
	p.str("FOXHOLE_S3_BUCKET", &c.S3.Bucket)
	p.boolean("FOXHOLE_S3_SECURE", &c.S3.Secure)
	if c.S3.Endpoint != "" {
		if strings.Contains(c.S3.Endpoint, "/") {
			p.fail("FOXHOLE_S3_ENDPOINT", "must be host:port without a scheme or path")
		}
		if c.S3.AccessKey == "" {
			p.fail("FOXHOLE_S3_ACCESS_KEY", "is required when FOXHOLE_S3_ENDPOINT is set")
		}
		if c.S3.SecretKey == "" {
			p.fail("FOXHOLE_S3_SECRET_KEY", "is required when FOXHOLE_S3_ENDPOINT is set")
		}
	}

	p.ops(&c.Ops)

	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			p.fail("FOXHOLE_ADDR", "must be host:port, e.g. 127.0.0.1:8080")
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		p.fail("FOXHOLE_DATA_DIR", "must not be empty")
	}
	return c, p.err
}

// ops reads TLS, metrics and the OTEL_* variables that turn traces on.
func (p *parser) ops(o *Ops) {
	p.str("FOXHOLE_TLS_CERT_FILE", &o.TLSCertFile)
	p.str("FOXHOLE_TLS_KEY_FILE", &o.TLSKeyFile)
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		p.fail("FOXHOLE_TLS_CERT_FILE", "and FOXHOLE_TLS_KEY_FILE must be set together")
	}
	if s := p.getenv("FOXHOLE_TLS_DOMAINS"); s != "" {
		for _, d := range strings.Split(s, ",") {
			if d = strings.ToLower(strings.TrimSpace(d)); d == "" {
				continue
			}
			if !validDomain(d) {
				p.fail("FOXHOLE_TLS_DOMAINS", fmt.Sprintf("%q is not a domain name like api.example.com", d))
			}
			o.TLSDomains = append(o.TLSDomains, d)
		}
		if o.TLSCertFile != "" {
			p.fail("FOXHOLE_TLS_DOMAINS", "and FOXHOLE_TLS_CERT_FILE are exclusive: certificates come from files or from ACME")
		}
	}
	p.str("FOXHOLE_ACME_DIRECTORY", &o.ACMEDirectory)
	if o.ACMEDirectory != "" {
		if u, err := url.Parse(o.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			p.fail("FOXHOLE_ACME_DIRECTORY", "must be an https:// URL like https://acme-v02.api.letsencrypt.org/directory")
		}
	}
	p.str("FOXHOLE_ACME_EMAIL", &o.ACMEEmail)
	if o.ACMEEmail != "" && (!strings.Contains(o.ACMEEmail, "@") || strings.ContainsAny(o.ACMEEmail, " \t\n,")) {
		p.fail("FOXHOLE_ACME_EMAIL", fmt.Sprintf("%q is not an email address", o.ACMEEmail))
	}
	p.str("FOXHOLE_ACME_CA_FILE", &o.ACMECAFile)
	p.str("FOXHOLE_METRICS_ADDR", &o.MetricsAddr)
	if o.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(o.MetricsAddr); err != nil {
			p.fail("FOXHOLE_METRICS_ADDR", "must be host:port, e.g. 127.0.0.1:9090")
		}
	}
	disabled := false
	p.boolean("OTEL_SDK_DISABLED", &disabled)
	exporter := ""
	p.oneOf("OTEL_TRACES_EXPORTER", &exporter, "otlp", "console", "none")
	endpoint := p.getenv("OTEL_EXPORTER_OTLP_ENDPOINT") + p.getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	switch {
	case disabled || exporter == "none":
	case exporter != "":
		o.Tracing, o.TracingExporter = true, exporter
	case endpoint != "":
		o.Tracing, o.TracingExporter = true, "otlp"
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if v := p.getenv(name); o.TracingExporter == "otlp" && v != "" && v != "http/protobuf" {
			p.fail(name, fmt.Sprintf("must be http/protobuf (OTLP over HTTP, port 4318), not %q: Foxhole exports over HTTP only", v))
		}
	}
}

// validDomain reports whether d is a DNS name with at least two labels.
func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// CheckShared refuses PostgreSQL without Valkey unless AllowSingleProcess
// says that only one process serves: several processes on one database
// would each keep presence, rate limits and revocations of their own.
func (c Config) CheckShared() error {
	if c.DatabaseURL != "" && c.ValkeyURL == "" && !c.AllowSingleProcess {
		return errors.New("FOXHOLE_DATABASE_URL is set without FOXHOLE_VALKEY_URL: processes sharing the database would each keep presence, " +
			"rate limits and token revocation of their own; set FOXHOLE_VALKEY_URL, or FOXHOLE_ALLOW_SINGLE_PROCESS=1 when only one process serves")
	}
	return nil
}

// parser keeps the first error so that Load reads as a list of variables.
type parser struct {
	getenv func(string) string
	err    error
}

func (p *parser) fail(name, reason string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s %s", name, reason)
	}
}

func (p *parser) str(name string, dst *string) {
	if s := p.getenv(name); s != "" {
		*dst = s
	}
}

// bounded reads name with parse and stores the value in dst when it lies
// from lo to hi. Otherwise it fails with why(s, v, err): err is parse's
// error, or nil when s parsed to v but v is out of range.
func bounded[T cmp.Ordered](p *parser, name string, dst *T, lo, hi T, parse func(string) (T, error), why func(s string, v T, err error) string) {
	s := p.getenv(name)
	if s == "" {
		return
	}
	v, err := parse(s)
	if err != nil || v < lo || v > hi {
		p.fail(name, why(s, v, err))
		return
	}
	*dst = v
}

func (p *parser) duration(name string, dst *time.Duration, lo, hi time.Duration) {
	bounded(p, name, dst, lo, hi, time.ParseDuration, func(s string, d time.Duration, err error) string {
		if err != nil {
			return fmt.Sprintf("must be a duration such as 1h or 90s, not %q", s)
		}
		return fmt.Sprintf("must be between %s and %s, not %s", lo, hi, d)
	})
}

// size parses a byte count, with an optional KiB, MiB or GiB suffix.
func (p *parser) size(name string, dst *int64, lo, hi int64) {
	bounded(p, name, dst, lo, hi, ParseSize, func(_ string, n int64, err error) string {
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("must be between %d and %d bytes, not %d", lo, hi, n)
	})
}

func (p *parser) integer(name string, dst *int, lo, hi int) {
	bounded(p, name, dst, lo, hi, strconv.Atoi, func(s string, _ int, _ error) string {
		return fmt.Sprintf("must be a whole number from %d to %d, not %q", lo, hi, s)
	})
}

func (p *parser) number(name string, dst *float64, lo, hi float64) {
	parse := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	bounded(p, name, dst, lo, hi, parse, func(s string, _ float64, _ error) string {
		return fmt.Sprintf("must be a number from %g to %g, not %q", lo, hi, s)
	})
}

func (p *parser) oneOf(name string, dst *string, allowed ...string) {
	s := p.getenv(name)
	if s == "" {
		return
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return
		}
	}
	p.fail(name, fmt.Sprintf("must be one of %s, not %q", strings.Join(allowed, ", "), s))
}

func (p *parser) boolean(name string, dst *bool) {
	s := p.getenv(name)
	if s == "" {
		return
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		p.fail(name, fmt.Sprintf("must be true or false, not %q", s))
		return
	}
	*dst = b
}

// ParseSize reads a byte count such as 4096, 4KiB, 8MiB or 1GiB.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("must be a byte count such as 4096, 512KiB, 8MiB or 1GiB, not " + strconv.Quote(s))
	}
	return n * mult, nil
}

func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.User == nil
}
