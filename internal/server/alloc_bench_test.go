package server_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"foxhole.dev/foxhole/client"
	"foxhole.dev/foxhole/internal/config"

	"foxhole.dev/foxhole/internal/testutil"
)

// discard is a ResponseWriter that keeps nothing, so that the benchmark
// counts the server's work alone.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// The connection's deadlines, which the server sets, as a real one has them.
func (d *discard) SetReadDeadline(time.Time) error  { return nil }
func (d *discard) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkGetProfileServer runs authenticated GetProfile calls (Connect
// JSON) through the whole handler, from the access log to the encoded
// response, with no network and no client: its allocs/op are the server's
// own per call.
func BenchmarkGetProfileServer(b *testing.B) {
	benchmarkGetProfileServer(b, "application/json", []byte("{}"))
}

// BenchmarkGetProfileServerBinary is BenchmarkGetProfileServer in Connect
// binary: an empty GetProfileRequest is an empty body.
func BenchmarkGetProfileServerBinary(b *testing.B) {
	benchmarkGetProfileServer(b, "application/proto", nil)
}

func benchmarkGetProfileServer(b *testing.B, contentType string, body []byte) {
	srv := testutil.Start(b)
	u := srv.Register(b, client.ConnectJSON, "bench")
	benchmarkServer(b, srv, "/foxhole.v1.ProfileService/GetProfile", contentType, body, u.Token)
}

// BenchmarkCreateTokenServer is BenchmarkGetProfileServer's counterpart
// for CreateToken in Connect JSON: a secret decoded, hashed, looked up and
// a token signed.
func BenchmarkCreateTokenServer(b *testing.B) {
	srv := testutil.Start(b, func(c *config.Config) { c.AuthRate = 0 })
	u := srv.Register(b, client.ConnectJSON, "bench")
	benchmarkServer(b, srv, "/foxhole.v1.AuthService/CreateToken", "application/json", []byte(`{"userSecret":"`+u.Secret+`"}`), "")
}

// benchmarkServer times calls of one procedure through the whole handler.
func benchmarkServer(b *testing.B, srv *testutil.Server, path, contentType string, body []byte, token string) {
	h := srv.App.Handler()
	newRequest := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		r.RemoteAddr = "127.0.0.1:40000"
		return r
	}
	// One call checked first, so that a refused call is not what is timed.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest())
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = newRequest()
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		clear(w.h)
		h.ServeHTTP(w, reqs[i])
	}
}
