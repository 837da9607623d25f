// Package webclient serves Foxhole's web app: the bundle Vite builds from
// this folder into dist/, committed and embedded in the binary so that
// `go run ./cmd/foxhole` serves it with only Go installed.
package webclient

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"time"
)

//go:embed dist
var dist embed.FS

// CSP allows the app only what it needs: its own scripts, styles and API
// (same origin), and no framing. Downloads are navigations, which
// connect-src does not govern, so S3 download links work too.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Index serves the app's page.
func Index() http.Handler { return page("dist/index.html") }

// Docs serves the API reference, rendered from the protos at build time.
func Docs() http.Handler { return page("dist/docs.html") }

// page serves one HTML file that browsers must revalidate on every visit
// (no-cache, with an ETag), so a new binary's app arrives at once.
func page(name string) http.Handler {
	body, err := dist.ReadFile(name)
	if err != nil {
		panic("web client: " + name + " is not embedded; build it with `just web`: " + err.Error())
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		setSecurityHeaders(h)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// Assets serves dist/assets/, whose names carry a hash of their content:
// they never change, so browsers may keep them for a year.
func Assets() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := fs.Stat(sub, r.URL.Path[1:]); err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		setSecurityHeaders(w.Header())
		files.ServeHTTP(w, r)
	})
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
