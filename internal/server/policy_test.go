package server_test

import (
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"foxhole.dev/foxhole/internal/server"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestEveryProcedureHasAPolicy walks every service the server registers:
// each of Foxhole's methods has a policy, each declared procedure is
// served, and a method nobody declared is not.
func TestEveryProcedureHasAPolicy(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	policies := srv.App.Handler().(*server.Handler).Policies()

	var foxhole []string
	protoregistry.GlobalFiles.RangeFilesByPackage("foxhole.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				foxhole = append(foxhole, "/"+string(sd.FullName())+"/"+string(sd.Methods().Get(j).Name()))
			}
		}
		return true
	})
	if len(foxhole) < 15 {
		t.Fatalf("found only %d methods in foxhole.v1: %v", len(foxhole), foxhole)
	}
	for _, path := range foxhole {
		if policies[path] == nil {
			t.Errorf("%s has no policy", path)
		}
	}

	// Every declared procedure is served: without a token or a body, it
	// answers anything but "no such procedure".
	services := map[string]bool{}
	for path := range policies {
		if !strings.HasPrefix(path, "/") || strings.Contains(path, " ") {
			continue // a plain route's pattern
		}
		services[strings.Split(path, "/")[1]] = true
		if code := call(t, srv.URL+path); code == "unimplemented" {
			t.Errorf("%s has a policy but is not served", path)
		}
	}
	for _, svc := range []string{grpchealth.HealthV1ServiceName, grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName} {
		if !services[svc] {
			t.Errorf("no policy names a method of %s", svc)
		}
	}
	// A method of a registered service that declares no policy is refused
	// before any handler runs.
	for svc := range services {
		if code := call(t, srv.URL+"/"+svc+"/Undeclared"); code != "unimplemented" {
			t.Errorf("/%s/Undeclared answered %q, want unimplemented", svc, code)
		}
	}
}

// call posts an empty Connect unary request and returns the error code in
// the answer, if any.
func call(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return "unimplemented"
	}
	return res.Status
}
