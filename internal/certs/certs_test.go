package certs_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/certs"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestReloaderKeepsTheLastGoodCertificate: files that change into
// something that does not load leave the previous certificate served;
// once they load again, the new one is.
func TestReloaderKeepsTheLastGoodCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewCA(t, dir)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, 1, certFile, keyFile)
	logs := &testutil.LockedBuffer{}
	tc, err := certs.Config(certs.Options{CertFile: certFile, KeyFile: keyFile, Log: zerolog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		c, err := tc.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.Int64()
	}
	if s := serial(); s != 1 {
		t.Fatalf("serial %d", s)
	}
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the once-a-second look at the files
	if s := serial(); s != 1 {
		t.Fatalf("serial %d after a broken file, want the previous certificate", s)
	}
	if !strings.Contains(logs.String(), "do not load") {
		t.Errorf("the broken files were not logged: %s", logs)
	}
	ca.Issue(t, 2, certFile, keyFile)
	deadline := time.Now().Add(10 * time.Second)
	for serial() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the repaired files were never loaded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := certs.Config(certs.Options{CertFile: filepath.Join(dir, "missing.pem"), KeyFile: keyFile}); err == nil {
		t.Fatal("a missing certificate file was accepted at start")
	}
}
