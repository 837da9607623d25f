package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// registryWith returns a registry holding one service, test.v1.Svc, whose
// methods carry the policies given (nil: none declared).
func registryWith(t *testing.T, methods map[string]*foxholev1.Policy) *protoregistry.Files {
	t.Helper()
	fd := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("test/v1/svc.proto"),
		Package:     proto.String("test.v1"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Msg")}},
		Service:     []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Svc")}},
	}
	for name, p := range methods {
		m := &descriptorpb.MethodDescriptorProto{
			Name:       proto.String(name),
			InputType:  proto.String(".test.v1.Msg"),
			OutputType: proto.String(".test.v1.Msg"),
		}
		if p != nil {
			m.Options = &descriptorpb.MethodOptions{}
			proto.SetExtension(m.Options, foxholev1.E_Policy, p)
		}
		fd.Service[0].Method = append(fd.Service[0].Method, m)
	}
	f, err := protodesc.NewFile(fd, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	files := &protoregistry.Files{}
	if err := files.RegisterFile(f); err != nil {
		t.Fatal(err)
	}
	return files
}

func TestProcedurePolicies(t *testing.T) {
	full := &foxholev1.Policy{
		Access: token, Body: small, RateLimit: noRate, ReadTimeout: seconds(30),
	}
	probes := []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}
	for _, tc := range []struct {
		name     string
		methods  map[string]*foxholev1.Policy
		services []string
		want     []string // in the error; none: no error
	}{
		{name: "declared", methods: map[string]*foxholev1.Policy{"Do": full}, services: append([]string{"test.v1.Svc"}, probes...)},
		{
			name:     "undeclared",
			methods:  map[string]*foxholev1.Policy{"Do": full, "Forgotten": nil},
			services: append([]string{"test.v1.Svc"}, probes...),
			want:     []string{"/test.v1.Svc/Forgotten declares no policy"},
		},
		{
			name:     "incomplete",
			methods:  map[string]*foxholev1.Policy{"Do": {Access: token}},
			services: append([]string{"test.v1.Svc"}, probes...),
			want:     []string{"/test.v1.Svc/Do: its policy does not declare body, rate_limit, read_timeout"},
		},
		{
			name:     "unknown service",
			methods:  map[string]*foxholev1.Policy{"Do": full},
			services: append([]string{"test.v1.Other"}, probes...),
			want:     []string{"service test.v1.Other is not in the registry"},
		},
		{
			name:     "declared for a service not registered",
			methods:  map[string]*foxholev1.Policy{"Do": full},
			services: []string{"test.v1.Svc", "grpc.health.v1.Health"},
			want: []string{
				"a policy is declared for /grpc.reflection.v1.ServerReflection/ServerReflectionInfo, which the server does not register",
				"a policy is declared for /grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo, which the server does not register",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := procedurePolicies(registryWith(t, tc.methods), tc.services)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got["/test.v1.Svc/Do"] == nil || got["/grpc.health.v1.Health/Watch"] == nil {
					t.Fatalf("policies = %v", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestCheckRoutes(t *testing.T) {
	var all []string
	for pattern := range httpRoutes {
		all = append(all, pattern)
	}
	if err := checkRoutes(all); err != nil {
		t.Fatal(err)
	}
	err := checkRoutes(append(all[1:], "GET /undeclared"))
	for _, w := range []string{`route "GET /undeclared" declares no policy`, `a policy is declared for route "` + all[0] + `", which the server does not mount`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not say %q", err, w)
		}
	}
}
