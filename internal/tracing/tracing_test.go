package tracing_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
	"foxhole.dev/foxhole/internal/tracing"
)

// TestTraces: with tracing on, every RPC, stream, plain route and
// WebSocket session has a span, the caller's trace context is its parent,
// and database queries and object-store calls are its children; spans go
// to the SDK's exporter (here one in memory).
func TestTraces(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	otel.SetTracerProvider(tp)
	tracing.SetPropagator()
	srv := testutil.Start(t, func(c *config.Config) { c.Tracing = true })
	u := srv.Register(t, client.Connect, "traced")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A call that carries its caller's trace context.
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/foxhole.v1.ProfileService/GetProfile", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.Token)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GetProfile: %s", res.Status)
	}

	c := srv.Clients(client.GRPC, u.Token)
	stream, err := c.Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "traced"})); err != nil {
		t.Fatal(err)
	}
	for stream.Receive() && stream.Msg().GetEvent() == nil {
	}
	stream.Close()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?skipPresence=true&token="+u.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	put, _ := http.NewRequest(http.MethodPut, srv.URL+"/files/t.txt", bytes.NewReader([]byte("traced content")))
	put.Header.Set("Authorization", "Bearer "+u.Token)
	res, err = http.DefaultClient.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	// Spans end when their call does: wait for every one expected.
	want := []string{"foxhole.v1.ProfileService/GetProfile", "foxhole.v1.RealtimeService/Subscribe",
		"GET /ws", "WebSocket session", "PUT /files/{name...}", "blob put", "SELECT", "INSERT"}
	var spans tracetest.SpanStubs
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		spans = exp.GetSpans()
		names := map[string]bool{}
		for _, s := range spans {
			names[s.Name] = true
		}
		missing := ""
		for _, w := range want {
			if !names[w] {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			var got []string
			for _, s := range spans {
				got = append(got, s.Name)
			}
			t.Fatalf("no span %q; spans: %v", missing, got)
		}
	}
	byID := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
	}
	var rpc tracetest.SpanStub
	for _, s := range spans {
		if s.Name == "foxhole.v1.ProfileService/GetProfile" && s.SpanContext.TraceID().String() == traceID {
			rpc = s
		}
	}
	if rpc.Name == "" || rpc.Parent.SpanID().String() != parentID {
		t.Fatalf("GetProfile's span is not a child of the caller's: %+v", rpc.Parent)
	}
	// The call's query is its child.
	query := false
	for _, s := range spans {
		if s.Parent.SpanID() == rpc.SpanContext.SpanID() && s.Name == "SELECT" {
			query = true
			for _, a := range s.Attributes {
				if a.Key == "db.query.text" && strings.Contains(a.Value.AsString(), "'") {
					t.Errorf("query text carries a value: %s", a.Value.AsString())
				}
			}
		}
	}
	if !query {
		t.Error("GetProfile's span has no query span under it")
	}
	// The upload's content and row are children of the route's span.
	for _, s := range spans {
		if s.Name == "blob put" {
			if p := byID[s.Parent.SpanID().String()]; p.Name != "PUT /files/{name...}" {
				t.Errorf("blob put's parent is %q", p.Name)
			}
		}
		if s.Name == "WebSocket session" {
			if p := byID[s.Parent.SpanID().String()]; p.Name != "GET /ws" {
				t.Errorf("the WebSocket session's parent is %q", p.Name)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT "u"."id" FROM "users" AS "u" WHERE (id = 'ab''c') LIMIT 1`:      `SELECT "u"."id" FROM "users" AS "u" WHERE (id = ?) LIMIT ?`,
		`INSERT INTO "events" ("id", "body") VALUES (42, X'00ff'), (-1.5, 'x')`: `INSERT INTO "events" ("id", "body") VALUES (?, X?), (-?, ?)`,
		`UPDATE t2 SET v = $1`: `UPDATE t2 SET v = $1`,
	} {
		if got := tracing.Redact(in); got != want {
			t.Errorf("Redact(%s) = %s, want %s", in, got, want)
		}
	}
}
