package config

import (
	"slices"
	"strings"
	"testing"
)

func TestLoadOps(t *testing.T) {
	c, err := Load(env(map[string]string{
		"FOXHOLE_TLS_DOMAINS":         "API.example.com, www.example.com",
		"FOXHOLE_ACME_DIRECTORY":      "https://acme-staging-v02.api.letsencrypt.org/directory",
		"FOXHOLE_ACME_EMAIL":          "ops@example.com",
		"FOXHOLE_ACME_CA_FILE":        "/etc/foxhole/acme-ca.pem",
		"FOXHOLE_METRICS_ADDR":        "127.0.0.1:9090",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.TLSDomains, []string{"api.example.com", "www.example.com"}) || c.ACMEEmail != "ops@example.com" ||
		c.ACMECAFile == "" || c.MetricsAddr != "127.0.0.1:9090" || !c.Tracing || c.TracingExporter != "otlp" {
		t.Errorf("ops = %+v", c.Ops)
	}
	c, err = Load(env(map[string]string{"FOXHOLE_TLS_CERT_FILE": "/c.pem", "FOXHOLE_TLS_KEY_FILE": "/k.pem", "OTEL_TRACES_EXPORTER": "console"}))
	if err != nil || c.TLSCertFile != "/c.pem" || c.TLSKeyFile != "/k.pem" || c.TracingExporter != "console" {
		t.Errorf("cert files: %+v %v", c.Ops, err)
	}
	for _, off := range []map[string]string{
		{},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
	} {
		if c, err := Load(env(off)); err != nil || c.Tracing {
			t.Errorf("%v: tracing %v, %v", off, c.Tracing, err)
		}
	}
}

func TestLoadRefusesBadOps(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"FOXHOLE_TLS_CERT_FILE": "/c.pem"}, "FOXHOLE_TLS_CERT_FILE and FOXHOLE_TLS_KEY_FILE must be set together"},
		{map[string]string{"FOXHOLE_TLS_DOMAINS": "localhost"}, "FOXHOLE_TLS_DOMAINS"},
		{map[string]string{"FOXHOLE_TLS_DOMAINS": "a.example.com", "FOXHOLE_TLS_CERT_FILE": "/c", "FOXHOLE_TLS_KEY_FILE": "/k"}, "exclusive"},
		{map[string]string{"FOXHOLE_ACME_DIRECTORY": "http://acme.example/dir"}, "FOXHOLE_ACME_DIRECTORY"},
		{map[string]string{"FOXHOLE_ACME_EMAIL": "nobody"}, "FOXHOLE_ACME_EMAIL"},
		{map[string]string{"FOXHOLE_METRICS_ADDR": "9090"}, "FOXHOLE_METRICS_ADDR"},
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "http/protobuf"},
	} {
		_, err := Load(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}
