package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// post sends a JSON body the way curl does: HTTP/1.1, no Connect headers.
func post(t *testing.T, url, token, contentType, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s answered %d with non-JSON %q", url, res.StatusCode, raw)
		}
	}
	return res.StatusCode, out, res.Header
}

func TestCurlFlow(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	const js = "application/json"

	status, reg, _ := post(t, srv.URL+"/foxhole.v1.AuthService/Register", "", js, `{"screenName":"curl user"}`)
	if status != 200 || reg["userSecret"] == "" {
		t.Fatalf("Register: %d %v", status, reg)
	}
	status, tok, _ := post(t, srv.URL+"/foxhole.v1.AuthService/CreateToken", "", js, `{"userSecret":"`+reg["userSecret"].(string)+`"}`)
	if status != 200 || tok["tokenType"] != "Bearer" {
		t.Fatalf("CreateToken: %d %v", status, tok)
	}
	token := tok["accessToken"].(string)
	status, prof, _ := post(t, srv.URL+"/foxhole.v1.ProfileService/GetProfile", token, js, `{}`)
	user, _ := prof["user"].(map[string]any)
	if status != 200 || user["screenName"] != "curl user" || user["id"] == "" || user["createdAt"] == nil {
		t.Fatalf("GetProfile: %d %v", status, prof)
	}
	status, upd, _ := post(t, srv.URL+"/foxhole.v1.ProfileService/UpdateProfile", token, js, `{"user":{"screenName":"renamed"},"updateMask":"screenName"}`)
	if user, _ := upd["user"].(map[string]any); status != 200 || user["screenName"] != "renamed" {
		t.Fatalf("UpdateProfile with a JSON field mask: %d %v", status, upd)
	}
	status, pub, _ := post(t, srv.URL+"/foxhole.v1.ProfileService/GetUser", token, js, `{"id":"`+user["id"].(string)+`"}`)
	if _, hasSecret := pub["userSecret"]; status != 200 || hasSecret {
		t.Fatalf("GetUser: %d %v", status, pub)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t, func(c *config.Config) { c.MaxRequestBytes = 64 << 10 })
	u := srv.Register(t, client.ConnectJSON, "victim")
	const js = "application/json"
	cases := []struct {
		name, path, token, contentType, body string
		wantStatus                           int
		wantCode                             string
	}{
		{"malformed JSON", "AuthService/Register", "", js, `{"screenName":`, 400, "invalid_argument"},
		{"not JSON", "AuthService/Register", "", js, `hello`, 400, "invalid_argument"},
		{"wrong type", "AuthService/Register", "", js, `{"screenName":42}`, 400, "invalid_argument"},
		{"screen name too long", "AuthService/Register", "", js, `{"screenName":"` + strings.Repeat("x", 65) + `"}`, 400, "invalid_argument"},
		{"control character", "AuthService/Register", "", js, `{"screenName":"a\u0000b"}`, 400, "invalid_argument"},
		{"only spaces", "AuthService/Register", "", js, `{"screenName":"   "}`, 400, "invalid_argument"},
		{"oversized message", "AuthService/Register", "", js, `{"screenName":"` + strings.Repeat("x", 70<<10) + `"}`, 429, "resource_exhausted"},
		{"empty secret", "AuthService/CreateToken", "", js, `{}`, 400, "invalid_argument"},
		{"wrong secret", "AuthService/CreateToken", "", js, `{"userSecret":"fxs_nope"}`, 401, "unauthenticated"},
		{"no token", "ProfileService/GetProfile", "", js, `{}`, 401, "unauthenticated"},
		{"garbage token", "ProfileService/GetProfile", "garbage", js, `{}`, 401, "unauthenticated"},
		{"unknown user id", "ProfileService/GetUser", u.Token, js, `{"id":"nobody"}`, 404, "not_found"},
		{"empty user id", "ProfileService/GetUser", u.Token, js, `{}`, 400, "invalid_argument"},
		{"bad mask", "ProfileService/UpdateProfile", u.Token, js, `{"user":{"id":"x"},"updateMask":"id"}`, 400, "invalid_argument"},
	}
	for _, tc := range cases {
		status, body, _ := post(t, srv.URL+"/foxhole.v1."+tc.path, tc.token, tc.contentType, tc.body)
		if status != tc.wantStatus || body["code"] != tc.wantCode {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.wantStatus, tc.wantCode)
		}
		if msg, _ := body["message"].(string); tc.wantCode != "" && msg == "" {
			t.Errorf("%s: no message for the client", tc.name)
		}
	}

	// Unknown JSON fields are ignored, as Connect does for forward
	// compatibility with newer clients.

	// Content types that are not Connect's are refused without a 500.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/foxhole.v1.AuthService/Register", strings.NewReader("x"))
	req.Header.Set("Content-Type", "text/plain")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: status %d, want 415", res.StatusCode)
	}

	// Nothing above changed the profile.
	status, prof, _ := post(t, srv.URL+"/foxhole.v1.ProfileService/GetProfile", u.Token, js, `{}`)
	if user, _ := prof["user"].(map[string]any); status != 200 || user["screenName"] != "victim" {
		t.Errorf("profile after bad input: %d %v", status, prof)
	}
}

func TestInternalErrorsAreHidden(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	if code, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Fatalf("readyz = %d before the database closes", code)
	}
	srv.App.Close() // the database goes away under a serving server

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/foxhole.v1.AuthService/Register", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "trace-me-123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	body := string(raw)
	if res.StatusCode != 500 || !strings.Contains(body, `"code":"internal"`) {
		t.Fatalf("Register on a closed database: %d %s", res.StatusCode, body)
	}
	for _, leak := range []string{"sql", "database", "closed", "goroutine", ".go:"} {
		if strings.Contains(strings.ToLower(body), leak) {
			t.Errorf("client sees %q in %s", leak, body)
		}
	}
	if !strings.Contains(body, "trace-me-123") {
		t.Errorf("client message %s does not name the request id", body)
	}
	logs := srv.Logs.String()
	if !strings.Contains(logs, `"request_id":"trace-me-123"`) || !strings.Contains(logs, "internal error") {
		t.Errorf("internal error not logged with its request id:\n%s", logs)
	}

	// /readyz's answer is reused for a second: wait for the next.
	code, ready := get(t, srv.URL+"/readyz")
	for deadline := time.Now().Add(10 * time.Second); code == http.StatusOK && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		code, ready = get(t, srv.URL+"/readyz")
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(ready, "database") {
		t.Errorf("readyz with the database closed = %d %s, want 503 naming the database", code, ready)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Errorf("healthz = %d, want 200 while the process serves", code)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestHealthAndReflection(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	status, body, _ := post(t, srv.URL+"/grpc.health.v1.Health/Check", "", "application/json", `{}`)
	if status != 200 || body["status"] != "SERVING_STATUS_SERVING" {
		t.Errorf("grpc.health.v1.Health/Check = %d %v", status, body)
	}

	for _, p := range []client.Protocol{client.GRPC, client.GRPCWeb} {
		client := grpcreflect.NewClient(client.HTTPClient(true), srv.URL, p.Options()...)
		stream := client.NewStream(context.Background())
		names, err := stream.ListServices()
		stream.Close()
		if err != nil {
			t.Fatalf("%s: ListServices: %v", string(p), err)
		}
		for _, want := range []string{"foxhole.v1.AuthService", "foxhole.v1.ProfileService", "foxhole.v1.FileService", "foxhole.v1.RealtimeService", "grpc.health.v1.Health"} {
			if !slices.ContainsFunc(names, func(n protoreflect.FullName) bool { return string(n) == want }) {
				t.Errorf("%s: reflection lists %v, missing %s", string(p), names, want)
			}
		}
	}
}

func TestRequestIDsAndAccessLog(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	u := srv.Register(t, client.ConnectJSON, "logged")

	for _, tc := range []struct{ sent, want string }{
		{"abc-123", "abc-123"},
		{"", ""},
		{"has spaces in it", ""},
		{strings.Repeat("x", 200), ""},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/foxhole.v1.ProfileService/GetProfile", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		if tc.sent != "" {
			req.Header.Set("X-Request-Id", tc.sent)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("X-Request-Id")
		if (tc.want != "" && got != tc.want) || got == "" || (tc.want == "" && got == tc.sent) {
			t.Errorf("sent X-Request-Id %q, got back %q", tc.sent, got)
		}
	}

	// One gRPC call, to see the protocol and code in its log line.
	_, err := srv.Clients(client.GRPC, u.Token).Profile.GetUser(context.Background(), connect.NewRequest(&foxholev1.GetUserRequest{Id: "missing"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("GetUser(missing) = %v", err)
	}

	var sawGRPC, sawOK bool
	for line := range strings.Lines(srv.Logs.String()) {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if e["message"] != "call" {
			continue
		}
		if e["path"] == "/foxhole.v1.ProfileService/GetUser" && e["protocol"] == "grpc" && e["code"] == "not_found" && e["user_id"] == u.ID {
			sawGRPC = true
		}
		if e["request_id"] == "abc-123" && e["code"] == "ok" && e["user_id"] == u.ID && e["duration_ms"] != nil {
			sawOK = true
		}
	}
	if !sawGRPC || !sawOK {
		t.Errorf("access log lacks the expected lines (grpc not_found: %v, ok with request id: %v):\n%s", sawGRPC, sawOK, srv.Logs.String())
	}
	for _, secret := range []string{u.Secret, u.Token} {
		if strings.Contains(srv.Logs.String(), secret) {
			t.Error("a secret or token reached the log")
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t, func(c *config.Config) { c.CORSOrigins = []string{"https://app.example"} })
	preflight := func(origin string) http.Header {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/foxhole.v1.ProfileService/GetProfile", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header
	}
	h := preflight("https://app.example")
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("allowed origin refused: %v", h)
	}
	if allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers")); !strings.Contains(allowed, "authorization") {
		t.Errorf("Authorization header not allowed: %q", allowed)
	}
	if h := preflight("https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin allowed: %v", h)
	}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/foxhole.v1.AuthService/Register", strings.NewReader(`{}`))
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if exposed := strings.ToLower(res.Header.Get("Access-Control-Expose-Headers")); !strings.Contains(exposed, "grpc-status") || !strings.Contains(exposed, "x-request-id") {
		t.Errorf("exposed headers = %q", exposed)
	}
}
