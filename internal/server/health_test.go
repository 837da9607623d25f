package server_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"foxhole.dev/foxhole/client"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestGRPCHealthFollowsReadiness: grpc.health.v1.Health says NOT_SERVING,
// for the server and for each service, whenever /readyz answers 503: here
// the database goes away, and a Watch stream hears it.
func TestGRPCHealthFollowsReadiness(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	hc := grpchealth.NewClient(client.HTTPClient(true), srv.URL, connect.WithGRPC())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	services := []string{"", "foxhole.v1.ProfileService", "foxhole.v1.RealtimeService"}
	for _, svc := range services {
		res, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: svc})
		if err != nil || res.Status != grpchealth.StatusServing {
			t.Fatalf("Check(%q) = %v, %v; want SERVING", svc, res, err)
		}
	}
	if _, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: "no.such.Service"}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("Check of an unknown service: %v, want not_found", err)
	}
	events := hc.Watch(ctx, &grpchealth.CheckRequest{Service: "foxhole.v1.ProfileService"})
	if ev := <-events; ev.Err != nil || ev.Response.Status != grpchealth.StatusServing {
		t.Fatalf("first Watch event: %+v", ev)
	}

	srv.App.Close() // the database goes away under a serving server
	// Watch sends only changes: the next event is the change.
	select {
	case ev := <-events:
		if ev.Err != nil {
			t.Fatalf("Watch: %v", ev.Err)
		}
		if ev.Response.Status != grpchealth.StatusNotServing {
			t.Fatalf("Watch sent %v", ev.Response.Status)
		}
	case <-ctx.Done():
		t.Fatal("Watch never said NOT_SERVING")
	}
	for _, svc := range services {
		res, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: svc})
		if err != nil || res.Status != grpchealth.StatusNotServing {
			t.Fatalf("Check(%q) with the database closed = %v, %v; want NOT_SERVING", svc, res, err)
		}
	}
}

// TestGRPCHealthWhileDraining: once the server drains, Check answers
// NOT_SERVING at once, as /readyz answers 503.
func TestGRPCHealthWhileDraining(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	hc := grpchealth.NewClient(client.HTTPClient(true), srv.URL, connect.WithGRPC())
	ctx := context.Background()
	if res, err := hc.Check(ctx, &grpchealth.CheckRequest{}); err != nil || res.Status != grpchealth.StatusServing {
		t.Fatalf("Check before draining = %v, %v", res, err)
	}
	if err := srv.App.EndSessions(ctx); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"", "foxhole.v1.AuthService"} {
		res, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: svc})
		if err != nil || res.Status != grpchealth.StatusNotServing {
			t.Fatalf("Check(%q) while draining = %v, %v; want NOT_SERVING", svc, res, err)
		}
	}
	if code, _ := get(t, srv.URL+"/readyz"); code != 503 {
		t.Fatalf("/readyz while draining = %d", code)
	}
}
