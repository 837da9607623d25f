package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// scrape returns the text the metrics listener serves, after some traffic
// of every kind on a server with Valkey.
func scrape(t *testing.T) string {
	t.Helper()
	v := testutil.StartValkey(t)
	srv := testutil.Start(t, func(c *config.Config) {
		c.MetricsAddr = "127.0.0.1:0" // the handler is read directly below
		c.ValkeyURL = v.URL
		c.AuthRate, c.AuthBurst = 0.001, 2 // the third registration is refused
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := srv.Register(t, client.Connect, "watched")
	c := srv.Clients(client.GRPC, u.Token)
	for range 2 {
		if _, err := c.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Clients(client.Connect, "").Register(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Clients(client.Connect, "").Register(ctx, ""); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("third registration: %v, want refused", err)
	}
	f, err := c.Upload(ctx, "a.txt", "text/plain", strings.NewReader("some content"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Download(ctx, f.GetId(), io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	stream, err := c.Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true}))
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?token="+u.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "hi"})); err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
		if stream.Msg().GetEvent() != nil {
			break
		}
	}
	get := func() string {
		rec := httptest.NewRecorder()
		srv.App.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /metrics: %d", rec.Code)
		}
		return rec.Body.String()
	}
	// Wait for the deliveries to be counted (after the write).
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		text = get()
		if strings.Contains(text, `foxhole_sessions_open{transport="websocket"} 1`) && strings.Contains(text, `foxhole_sessions_open{transport="stream"} 1`) &&
			!strings.Contains(text, "foxhole_deliveries_total 0") || time.Now().After(deadline) {
			break
		}
	}
	stream.Close()
	return text
}

// TestMetrics: the listener serves what each kind of traffic counts.
func TestMetrics(t *testing.T) {
	text := scrape(t)
	for _, want := range []string{
		`foxhole_calls_total{code="ok",protocol="grpc",route="/foxhole.v1.ProfileService/GetProfile"} 2`,
		`foxhole_limit_refusals_total{route="/foxhole.v1.AuthService/Register"} 1`,
		`foxhole_call_duration_seconds_bucket{protocol="grpc",route="/foxhole.v1.ProfileService/GetProfile",le="+Inf"} 2`,
		`foxhole_sessions_open{transport="stream"} 1`,
		`foxhole_sessions_open{transport="websocket"} 1`,
		`foxhole_upload_bytes_total 12`,
		`foxhole_download_bytes_total 12`,
		`foxhole_valkey_up 1`,
		`go_sql_open_connections{db_name="writer"}`,
		`go_goroutines`,
		`foxhole_build_info{`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if regexp.MustCompile(`foxhole_deliveries_total 0\b`).MatchString(text) {
		t.Error("no delivery counted")
	}
	if regexp.MustCompile(`foxhole_cache_requests_total\{result="hit"\} 0\b`).MatchString(text) {
		t.Error("no cache hit counted")
	}
	if t.Failed() {
		t.Log(text)
	}
}

// TestDashboardNamesRealMetrics: every metric a panel of the Grafana
// dashboard queries is one the server serves.
func TestDashboardNamesRealMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/foxhole.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, line := range strings.Split(scrape(t), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			fields := strings.Fields(name)
			served[fields[0]] = true
			switch fields[1] {
			case "histogram":
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					served[fields[0]+s] = true
				}
			case "summary":
				served[fields[0]+"_sum"], served[fields[0]+"_count"] = true, true
			case "counter":
				served[fields[0]+"_total"] = true // OpenMetrics names the family without _total
			}
		}
	}
	// Identifiers followed by a selector, a range or the end of a call.
	metric := regexp.MustCompile(`\b((?:foxhole|go|process)_[a-zA-Z0-9_]+)\b`)
	n := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			names := metric.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric in %q", p.Title, tg.Expr)
			}
			for _, name := range names {
				n++
				if !served[name] {
					t.Errorf("panel %q queries %s, which the server does not serve", p.Title, name)
				}
			}
		}
	}
	if n < 20 || bytes.Count(raw, []byte(`"expr"`)) < len(d.Panels) {
		t.Fatalf("only %d metric names in %d panels", n, len(d.Panels))
	}
}
