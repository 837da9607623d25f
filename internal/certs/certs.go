// Package certs gives the server its TLS configuration: a certificate and
// key from files, read again when they change, or certificates obtained
// and renewed from an ACME CA (Let's Encrypt by default) through
// golang.org/x/crypto/acme/autocert, answering the TLS-ALPN-01 challenge
// on the serving port itself.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Options say where certificates come from. CertFile and KeyFile, or
// Domains, or nothing (no TLS).
type Options struct {
	CertFile, KeyFile string
	Domains           []string
	// Directory is the ACME CA's directory URL; empty: Let's Encrypt's.
	Directory string
	// Email is given to the CA for notices about the account; optional.
	Email string
	// CAFile, when set, holds the roots that the ACME directory's own
	// HTTPS certificate is checked against (a private ACME CA).
	CAFile string
	// CacheDir keeps the ACME account key and certificates.
	CacheDir string
	Log      zerolog.Logger
}

// Enabled reports whether o asks for TLS.
func (o Options) Enabled() bool { return o.CertFile != "" || len(o.Domains) > 0 }

// Config returns the server's TLS configuration, nil when o asks for none.
// HTTP/2 and HTTP/1.1 are offered by ALPN.
func Config(o Options) (*tls.Config, error) {
	switch {
	case o.CertFile != "":
		r, err := newReloader(o.CertFile, o.KeyFile, o.Log)
		if err != nil {
			return nil, err
		}
		return &tls.Config{
			MinVersion:     tls.VersionTLS12,
			NextProtos:     []string{"h2", "http/1.1"},
			GetCertificate: r.get,
		}, nil
	case len(o.Domains) > 0:
		return acmeConfig(o)
	}
	return nil, nil
}

func acmeConfig(o Options) (*tls.Config, error) {
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("ACME cache: %w", err)
	}
	dir := o.Directory
	if dir == "" {
		dir = autocert.DefaultACMEDirectory
	}
	hc := &http.Client{Timeout: time.Minute}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("FOXHOLE_ACME_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("FOXHOLE_ACME_CA_FILE holds no PEM certificate")
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Proxy: http.ProxyFromEnvironment}
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(o.CacheDir),
		HostPolicy: autocert.HostWhitelist(o.Domains...),
		Email:      o.Email,
		Client:     &acme.Client{DirectoryURL: dir, HTTPClient: hc},
	}
	log := o.Log
	tc := m.TLSConfig()
	tc.MinVersion = tls.VersionTLS12
	get := tc.GetCertificate
	tc.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := get(hello)
		if err != nil && hello.ServerName != "" {
			log.Warn().Err(err).Str("server_name", hello.ServerName).Msg("no certificate for the TLS handshake")
		}
		return c, err
	}
	return tc, nil
}

// reloader serves the certificate in its files, read again on the first
// handshake after either file changes. A file that fails to load leaves the
// last good certificate in use, and is logged.
type reloader struct {
	certFile, keyFile string
	log               zerolog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func newReloader(certFile, keyFile string, log zerolog.Logger) (*reloader, error) {
	r := &reloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// checkEvery bounds how often the files are looked at: at most once a
// second, whatever the handshake rate.
const checkEvery = time.Second

func (r *reloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= checkEvery {
		r.checked = time.Now()
		if s, err := r.stamps(); err == nil && s != r.stamp {
			if err := r.load(); err != nil {
				r.log.Error().Err(err).Msg("TLS certificate files changed but do not load; serving the previous certificate")
				r.stamp = s // not again until they change once more
			} else {
				r.log.Info().Str("cert", r.certFile).Msg("TLS certificate reloaded")
			}
		}
	}
	return r.cert, nil
}

func (r *reloader) stamps() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return s, err
		}
		s[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return s, nil
}

// load reads both files; r.mu is held, or r is not yet shared.
func (r *reloader) load() error {
	s, err := r.stamps()
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate (FOXHOLE_TLS_CERT_FILE, FOXHOLE_TLS_KEY_FILE): %w", err)
	}
	r.cert, r.stamp = &c, s
	return nil
}

// CacheDir is where ACME state lives in a data directory.
func CacheDir(dataDir string) string { return filepath.Join(dataDir, "acme") }
