package main

import (
	"strings"
	"testing"

	"foxhole.dev/foxhole/client"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestHTTPS: foxholectl speaks every protocol to an https:// server whose
// certificate a private CA issued, trusting it with --ca-file, and refuses
// it without.
func TestHTTPS(t *testing.T) {
	srv, caFile := testutil.StartTLS(t, func(c *config.Config) { c.AuthRate = 0 })
	newHome(t)
	for _, p := range client.Protocols {
		out := mustCtl(t, "", global(srv.URL, p, "--ca-file", caFile, "register", "--force", "--name", "tls-"+string(p))...)
		if !strings.Contains(out, "tls-"+string(p)) {
			t.Fatalf("%s: register printed %q", p, out)
		}
		if out := mustCtl(t, "", global(srv.URL, p, "--ca-file", caFile, "whoami")...); !strings.Contains(out, "tls-"+string(p)) {
			t.Fatalf("%s: whoami printed %q", p, out)
		}
	}
	// The CA also comes from FOXHOLE_CA_FILE.
	t.Setenv("FOXHOLE_CA_FILE", caFile)
	mustCtl(t, "", global(srv.URL, client.GRPC, "whoami")...)
	t.Setenv("FOXHOLE_CA_FILE", "")
	if _, errOut, code := ctl(t, "", global(srv.URL, client.GRPC, "whoami")...); code != exitUnreachable || !strings.Contains(errOut, "certificate") {
		t.Fatalf("without the CA: exit %d, %s", code, errOut)
	}
	if _, errOut, code := ctl(t, "", global(srv.URL, client.GRPC, "--ca-file", "/nonexistent.pem", "whoami")...); code != exitUsage || !strings.Contains(errOut, "--ca-file") {
		t.Fatalf("a missing CA file: exit %d, %s", code, errOut)
	}
}
