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
		"FOXHOLE_ADDR":              "0.0.0.0:9000",
		"FOXHOLE_DATA_DIR":          "/var/lib/foxhole",
		"FOXHOLE_JWT_SECRET":        strings.Repeat("s", 32),
		"FOXHOLE_TOKEN_TTL":         "15m",
		"FOXHOLE_CORS_ORIGINS":      "https://a.example, http://localhost:5173",
		"FOXHOLE_MAX_REQUEST_BYTES": "2MiB",
		"FOXHOLE_SHUTDOWN_TIMEOUT":  "5s",
		"FOXHOLE_LOG_LEVEL":         "debug",
		"FOXHOLE_LOG_FORMAT":        "json",
		"FOXHOLE_VALKEY_URL":        "redis://127.0.0.1:6379/0",
		"FOXHOLE_S3_ENDPOINT":       "127.0.0.1:9000",
		"FOXHOLE_S3_ACCESS_KEY":     "ak",
		"FOXHOLE_S3_SECRET_KEY":     "sk",
		"FOXHOLE_S3_BUCKET":         "files",
		"FOXHOLE_S3_SECURE":         "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "0.0.0.0:9000" || c.TokenTTL != 15*time.Minute || len(c.CORSOrigins) != 2 ||
		c.MaxRequestBytes != 2<<20 || c.ShutdownTimeout != 5*time.Second || !c.S3.Secure || c.S3.Bucket != "files" {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadNamesTheBadVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"FOXHOLE_ADDR":              {"FOXHOLE_ADDR": "8080"},
		"FOXHOLE_TOKEN_TTL":         {"FOXHOLE_TOKEN_TTL": "forever"},
		"FOXHOLE_JWT_SECRET":        {"FOXHOLE_JWT_SECRET": "short"},
		"FOXHOLE_CORS_ORIGINS":      {"FOXHOLE_CORS_ORIGINS": "app.example"},
		"FOXHOLE_MAX_REQUEST_BYTES": {"FOXHOLE_MAX_REQUEST_BYTES": "lots"},
		"FOXHOLE_LOG_LEVEL":         {"FOXHOLE_LOG_LEVEL": "loud"},
		"FOXHOLE_VALKEY_URL":        {"FOXHOLE_VALKEY_URL": "http://x"},
		"FOXHOLE_S3_SECURE":         {"FOXHOLE_S3_SECURE": "maybe"},
		"FOXHOLE_S3_ACCESS_KEY":     {"FOXHOLE_S3_ENDPOINT": "127.0.0.1:9000"},
		"FOXHOLE_S3_ENDPOINT":       {"FOXHOLE_S3_ENDPOINT": "http://127.0.0.1:9000", "FOXHOLE_S3_ACCESS_KEY": "a", "FOXHOLE_S3_SECRET_KEY": "b"},
		"FOXHOLE_SHUTDOWN_TIMEOUT":  {"FOXHOLE_SHUTDOWN_TIMEOUT": "1ms"},
	}
	for name, vars := range cases {
		_, err := Load(env(vars))
		if err == nil || !strings.HasPrefix(err.Error(), name+" ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line starting with %s", vars, err, name)
		}
	}
}
