package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"foxhole.dev/foxhole/internal/testutil"
)

func getPage(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// The web app is public: its page, its assets and the reference need no
// token, and each is cached the way it should be.
func TestWebClientServed(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)

	res, index := getPage(t, srv.URL+"/")
	if res.StatusCode != 200 || !strings.Contains(index, `<div id="app-view">`) {
		t.Fatalf("GET /: %d %.200q", res.StatusCode, index)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-cache",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; script-src 'self';",
	} {
		if got := res.Header.Get(k); !strings.HasPrefix(got, want) {
			t.Errorf("GET /: %s = %q, want %q", k, got, want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("GET /: Content-Security-Policy %q", csp)
	}

	assets := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(assets) < 2 {
		t.Fatalf("index.html names %d assets, want the script and the style sheet", len(assets))
	}
	for _, a := range assets {
		res, body := getPage(t, srv.URL+a[1])
		if res.StatusCode != 200 || len(body) == 0 || res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: %d, %d bytes, Cache-Control %q", a[1], res.StatusCode, len(body), res.Header.Get("Cache-Control"))
		}
	}
	if res, _ := getPage(t, srv.URL+"/assets/missing.js"); res.StatusCode != 404 {
		t.Errorf("GET /assets/missing.js: %d, want 404", res.StatusCode)
	}

	res, docs := getPage(t, srv.URL+"/docs")
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /docs: %d %v", res.StatusCode, res.Header)
	}
	methods := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("foxhole.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				methods++
				path := "POST /" + string(sd.FullName()) + "/" + string(sd.Methods().Get(j).Name())
				if !strings.Contains(docs, path) {
					t.Errorf("/docs does not document %s", path)
				}
			}
		}
		return true
	})
	if methods == 0 {
		t.Fatal("no foxhole.v1 methods registered")
	}
	if n := strings.Count(docs, `<article class="method"`); n != methods {
		t.Errorf("/docs has %d methods, the protos %d", n, methods)
	}
	// Each method shows the policy the server enforces, read from its option.
	if n := strings.Count(docs, `<dl class="policy"><dt>Access</dt>`); n != methods {
		t.Errorf("/docs shows %d policies for %d methods", n, methods)
	}
	if !strings.Contains(docs, `<dt>Access</dt><dd>public</dd>`) || !strings.Contains(docs, `<dt>Holds</dt>`) {
		t.Error("/docs does not show who may call a method and what it holds")
	}
}

// Serving the app opens no other path: unknown procedures and routes still
// answer unimplemented (404) before any token is looked at.
func TestWebClientLeavesUnknownRoutesUnknown(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	for _, path := range []string{"/foxhole.v1.AuthService/Nope", "/foo.v1.Bar/Baz", "/index.html"} {
		status, body, _ := post(t, srv.URL+path, "", "application/json", `{}`)
		if status != http.StatusNotFound || body["code"] != "unimplemented" {
			t.Errorf("POST %s: %d %v", path, status, body)
		}
	}
	for _, path := range []string{"/index.html", "/docs/", "/app", "/assets", "/assets/", "/assets/a/b.js"} {
		if res, body := getPage(t, srv.URL+path); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "unimplemented") {
			t.Errorf("GET %s: %d %.100q", path, res.StatusCode, body)
		}
	}
	// Only GET and HEAD reach the page.
	if status, body, _ := post(t, srv.URL+"/", "", "application/json", `{}`); status == http.StatusOK {
		t.Errorf("POST /: %d %v", status, body)
	}
}
