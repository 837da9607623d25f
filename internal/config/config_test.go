package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.TokenTTL != time.Hour || c.ValkeyURL != "" || c.S3.Endpoint != "" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	c, err := Load(env(map[string]string{
		"FOXHOLE_ADDR":                   "0.0.0.0:9000",
		"FOXHOLE_DATA_DIR":               "/var/lib/foxhole",
		"FOXHOLE_JWT_SECRET":             strings.Repeat("s", 32),
		"FOXHOLE_TOKEN_TTL":              "15m",
		"FOXHOLE_CORS_ORIGINS":           "https://a.example, http://localhost:5173",
		"FOXHOLE_MAX_REQUEST_BYTES":      "2MiB",
		"FOXHOLE_SHUTDOWN_TIMEOUT":       "5s",
		"FOXHOLE_LOG_LEVEL":              "debug",
		"FOXHOLE_LOG_FORMAT":             "json",
		"FOXHOLE_VALKEY_URL":             "redis://127.0.0.1:6379/0",
		"FOXHOLE_DATABASE_URL":           "postgres://foxhole:pw@db.internal:5432/foxhole?sslmode=require",
		"FOXHOLE_S3_ENDPOINT":            "127.0.0.1:9000",
		"FOXHOLE_S3_ACCESS_KEY":          "ak",
		"FOXHOLE_S3_SECRET_KEY":          "sk",
		"FOXHOLE_S3_BUCKET":              "files",
		"FOXHOLE_S3_SECURE":              "true",
		"FOXHOLE_AUTH_RATE":              "0",
		"FOXHOLE_AUTH_BURST":             "5",
		"FOXHOLE_TRUSTED_PROXIES":        "10.0.0.0/8, 2001:db8::/32",
		"FOXHOLE_MAX_PROBE_STREAMS":      "8",
		"FOXHOLE_FILE_MAX_COUNT":         "100",
		"FOXHOLE_FILE_MIN_CHARGE_BYTES":  "1KiB",
		"FOXHOLE_MAX_UPLOADS_PER_USER":   "2",
		"FOXHOLE_UPLOAD_IDLE_TIMEOUT":    "5s",
		"FOXHOLE_DOWNLOAD_WRITE_TIMEOUT": "6s",
		"FOXHOLE_MAX_SESSIONS_PER_USER":  "3",
		"FOXHOLE_MAX_SESSIONS_PER_ADDR":  "4",
		"FOXHOLE_PRESENCE_INTERVAL":      "250ms",
		"FOXHOLE_REGISTER_RATE_56":       "0.5",
		"FOXHOLE_REGISTER_BURST_56":      "7",
		"FOXHOLE_REGISTER_RATE_48":       "0",
		"FOXHOLE_REGISTER_BURST_48":      "8",
		"FOXHOLE_REGISTER_RATE_GLOBAL":   "3",
		"FOXHOLE_REGISTER_BURST_GLOBAL":  "9",
		"FOXHOLE_UNUSED_ACCOUNT_TTL":     "48h",
		"FOXHOLE_LIST_RATE":              "4",
		"FOXHOLE_LIST_BURST":             "6",
		"FOXHOLE_PRESENCE_SNAPSHOT_MAX":  "50",
		"FOXHOLE_MAX_UPLOADS":            "10",
		"FOXHOLE_MAX_DOWNLOADS":          "20",
		"FOXHOLE_MAX_DOWNLOADS_PER_USER": "5",
		"FOXHOLE_TRANSFER_MIN_RATE":      "2KiB",
		"FOXHOLE_TRANSFER_RATE_WINDOW":   "2m",
		"FOXHOLE_S3_STALE_UPLOAD_AGE":    "48h",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthRate != 0 || c.AuthBurst != 5 || len(c.TrustedProxies) != 2 || c.MaxProbeStreams != 8 ||
		c.FileMaxCount != 100 || c.FileMinCharge != 1<<10 || c.MaxUploadsPerUser != 2 ||
		c.UploadIdleTimeout != 5*time.Second || c.DownloadTimeout != 6*time.Second ||
		c.MaxSessionsUser != 3 || c.MaxSessionsAddr != 4 || c.PresenceInterval != 250*time.Millisecond ||
		c.RegisterRate56 != 0.5 || c.RegisterBurst56 != 7 || c.RegisterRate48 != 0 || c.RegisterBurst48 != 8 ||
		c.RegisterRateGlobal != 3 || c.RegisterBurstGlobal != 9 || c.UnusedAccountTTL != 48*time.Hour ||
		c.ListRate != 4 || c.ListBurst != 6 || c.PresenceSnapshotMax != 50 ||
		c.MaxUploads != 10 || c.MaxDownloads != 20 || c.MaxDownloadsUser != 5 || c.TransferMinRate != 2<<10 ||
		c.TransferWindow != 2*time.Minute || c.S3StaleUploadAge != 48*time.Hour {
		t.Errorf("limits = %+v", c)
	}
	if c.Addr != "0.0.0.0:9000" || c.TokenTTL != 15*time.Minute || len(c.CORSOrigins) != 2 ||
		c.MaxRequestBytes != 2<<20 || c.ShutdownTimeout != 5*time.Second || !c.S3.Secure || c.S3.Bucket != "files" ||
		c.DatabaseURL != "postgres://foxhole:pw@db.internal:5432/foxhole?sslmode=require" {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadNamesTheBadVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"FOXHOLE_ADDR":                   {"FOXHOLE_ADDR": "8080"},
		"FOXHOLE_TOKEN_TTL":              {"FOXHOLE_TOKEN_TTL": "forever"},
		"FOXHOLE_JWT_SECRET":             {"FOXHOLE_JWT_SECRET": "short"},
		"FOXHOLE_CORS_ORIGINS":           {"FOXHOLE_CORS_ORIGINS": "app.example"},
		"FOXHOLE_MAX_REQUEST_BYTES":      {"FOXHOLE_MAX_REQUEST_BYTES": "lots"},
		"FOXHOLE_LOG_LEVEL":              {"FOXHOLE_LOG_LEVEL": "loud"},
		"FOXHOLE_VALKEY_URL":             {"FOXHOLE_VALKEY_URL": "http://x"},
		"FOXHOLE_DATABASE_URL":           {"FOXHOLE_DATABASE_URL": "mysql://u@h/db"},
		"FOXHOLE_S3_SECURE":              {"FOXHOLE_S3_SECURE": "maybe"},
		"FOXHOLE_S3_ACCESS_KEY":          {"FOXHOLE_S3_ENDPOINT": "127.0.0.1:9000"},
		"FOXHOLE_S3_ENDPOINT":            {"FOXHOLE_S3_ENDPOINT": "http://127.0.0.1:9000", "FOXHOLE_S3_ACCESS_KEY": "a", "FOXHOLE_S3_SECRET_KEY": "b"},
		"FOXHOLE_SHUTDOWN_TIMEOUT":       {"FOXHOLE_SHUTDOWN_TIMEOUT": "1ms"},
		"FOXHOLE_AUTH_RATE":              {"FOXHOLE_AUTH_RATE": "-1"},
		"FOXHOLE_TRUSTED_PROXIES":        {"FOXHOLE_TRUSTED_PROXIES": "10.0.0.1"},
		"FOXHOLE_MAX_SESSIONS_PER_USER":  {"FOXHOLE_MAX_SESSIONS_PER_USER": "0"},
		"FOXHOLE_UPLOAD_IDLE_TIMEOUT":    {"FOXHOLE_UPLOAD_IDLE_TIMEOUT": "10ms"},
		"FOXHOLE_PRESENCE_INTERVAL":      {"FOXHOLE_PRESENCE_INTERVAL": "0"},
		"FOXHOLE_UNUSED_ACCOUNT_TTL":     {"FOXHOLE_UNUSED_ACCOUNT_TTL": "10m"},
		"FOXHOLE_REGISTER_RATE_48":       {"FOXHOLE_REGISTER_RATE_48": "-1"},
		"FOXHOLE_LIST_RATE":              {"FOXHOLE_LIST_RATE": "0"},
		"FOXHOLE_PRESENCE_SNAPSHOT_MAX":  {"FOXHOLE_PRESENCE_SNAPSHOT_MAX": "0"},
		"FOXHOLE_ALLOW_SINGLE_PROCESS":   {"FOXHOLE_ALLOW_SINGLE_PROCESS": "perhaps"},
		"FOXHOLE_MAX_UPLOADS":            {"FOXHOLE_MAX_UPLOADS": "0"},
		"FOXHOLE_MAX_DOWNLOADS_PER_USER": {"FOXHOLE_MAX_DOWNLOADS_PER_USER": "many"},
		"FOXHOLE_TRANSFER_MIN_RATE":      {"FOXHOLE_TRANSFER_MIN_RATE": "fast"},
		"FOXHOLE_TRANSFER_RATE_WINDOW":   {"FOXHOLE_TRANSFER_RATE_WINDOW": "10ms"},
		"FOXHOLE_S3_STALE_UPLOAD_AGE":    {"FOXHOLE_S3_STALE_UPLOAD_AGE": "1m"},
	}
	for name, vars := range cases {
		_, err := Load(env(vars))
		if err == nil || !strings.HasPrefix(err.Error(), name+" ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line starting with %s", vars, err, name)
		}
	}
}

// FuzzLoad gives every variable arbitrary values: Load never panics, and
// either accepts the value or names a variable (this one, or one it needs),
// on one line.
func FuzzLoad(f *testing.F) {
	names := strings.Fields(configVariables)
	for i, seed := range []string{"1", "0", "-1", "8MiB", "1.5", "10.0.0.0/8", "redis://h:1/0", "1h", "", "\x00", "9223372036854775807GiB"} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		name := names[int(which)%len(names)]
		_, err := Load(env(map[string]string{name: value}))
		if err != nil && (!strings.HasPrefix(err.Error(), "FOXHOLE_") || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("%s=%q: error %q does not name the variable on one line", name, value, err)
		}
	})
}

// configVariables are the variables Load reads.
const configVariables = `FOXHOLE_ADDR FOXHOLE_DATA_DIR FOXHOLE_JWT_SECRET FOXHOLE_TOKEN_TTL
FOXHOLE_CORS_ORIGINS FOXHOLE_MAX_REQUEST_BYTES FOXHOLE_SHUTDOWN_TIMEOUT FOXHOLE_AUTH_RATE
FOXHOLE_AUTH_BURST FOXHOLE_TRUSTED_PROXIES FOXHOLE_MAX_PROBE_STREAMS FOXHOLE_PPROF_ADDR FOXHOLE_GC_HEAP_FLOOR
FOXHOLE_LOG_LEVEL FOXHOLE_LOG_FORMAT FOXHOLE_PUBLIC_URL FOXHOLE_FILE_UNARY_MAX_BYTES
FOXHOLE_FILE_MAX_BYTES FOXHOLE_FILE_QUOTA_BYTES FOXHOLE_FILE_MAX_COUNT FOXHOLE_FILE_MIN_CHARGE_BYTES
FOXHOLE_DOWNLOAD_URL_TTL FOXHOLE_MAX_UPLOADS_PER_USER FOXHOLE_UPLOAD_IDLE_TIMEOUT
FOXHOLE_DOWNLOAD_WRITE_TIMEOUT FOXHOLE_HEARTBEAT_INTERVAL FOXHOLE_SUBSCRIBER_QUEUE FOXHOLE_PRESENCE_INTERVAL
FOXHOLE_MESSAGE_MAX_CHARS FOXHOLE_MESSAGE_RATE FOXHOLE_MESSAGE_BURST FOXHOLE_EVENT_RETENTION_COUNT
FOXHOLE_EVENT_RETENTION_AGE FOXHOLE_WS_ORIGINS FOXHOLE_WS_MAX_FRAME_BYTES FOXHOLE_WS_PING_INTERVAL
FOXHOLE_MAX_SESSIONS_PER_USER FOXHOLE_MAX_SESSIONS_PER_ADDR FOXHOLE_VALKEY_URL FOXHOLE_DATABASE_URL FOXHOLE_CACHE_ENTRIES FOXHOLE_S3_ENDPOINT
FOXHOLE_S3_ACCESS_KEY FOXHOLE_S3_SECRET_KEY FOXHOLE_S3_BUCKET FOXHOLE_S3_SECURE
FOXHOLE_REGISTER_RATE_56 FOXHOLE_REGISTER_BURST_56 FOXHOLE_REGISTER_RATE_48 FOXHOLE_REGISTER_BURST_48
FOXHOLE_REGISTER_RATE_GLOBAL FOXHOLE_REGISTER_BURST_GLOBAL FOXHOLE_UNUSED_ACCOUNT_TTL
FOXHOLE_LIST_RATE FOXHOLE_LIST_BURST FOXHOLE_PRESENCE_SNAPSHOT_MAX FOXHOLE_ALLOW_SINGLE_PROCESS
FOXHOLE_MAX_UPLOADS FOXHOLE_MAX_DOWNLOADS FOXHOLE_MAX_DOWNLOADS_PER_USER FOXHOLE_TRANSFER_MIN_RATE
FOXHOLE_TRANSFER_RATE_WINDOW FOXHOLE_S3_STALE_UPLOAD_AGE`

func TestDatabaseURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"postgres://foxhole:secret@127.0.0.1:5432/foxhole", true},
		{"postgresql://db.example/foxhole?sslmode=verify-full", true},
		{"postgres://127.0.0.1:5432", false},  // no database
		{"postgres:///foxhole", false},        // no host
		{"redis://127.0.0.1:6379/0", false},   // not PostgreSQL
		{"host=db dbname=foxhole", false},     // keyword form: a URL is asked for
		{"postgres://u:secret@h/db x", false}, // stray text
	} {
		c, err := Load(env(map[string]string{"FOXHOLE_DATABASE_URL": tc.url, "FOXHOLE_ALLOW_SINGLE_PROCESS": "1"}))
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok %v", tc.url, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: the error repeats the password: %v", tc.url, err)
		}
		if err == nil && c.DatabaseURL != tc.url {
			t.Errorf("%q: DatabaseURL = %q", tc.url, c.DatabaseURL)
		}
	}
}

// PostgreSQL without Valkey is refused, on one line saying why, unless a
// single process is allowed; with Valkey it needs nothing more.
func TestPostgresWithoutValkeyNeedsSingleProcess(t *testing.T) {
	const db = "postgres://foxhole@127.0.0.1:5432/foxhole"
	_, err := Load(env(map[string]string{"FOXHOLE_DATABASE_URL": db}))
	if err == nil || !strings.HasPrefix(err.Error(), "FOXHOLE_DATABASE_URL ") || !strings.Contains(err.Error(), "FOXHOLE_ALLOW_SINGLE_PROCESS=1") ||
		strings.Contains(err.Error(), "\n") {
		t.Errorf("PostgreSQL without Valkey: %v; want one line naming FOXHOLE_ALLOW_SINGLE_PROCESS=1", err)
	}
	for _, ok := range []map[string]string{
		{"FOXHOLE_DATABASE_URL": db, "FOXHOLE_ALLOW_SINGLE_PROCESS": "1"},
		{"FOXHOLE_DATABASE_URL": db, "FOXHOLE_VALKEY_URL": "redis://127.0.0.1:6379/0"},
		{}, // SQLite
	} {
		if _, err := Load(env(ok)); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}
