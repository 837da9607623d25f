package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// Every Foxhole method declares its policy in the protos, beside its
// definition (`option (foxhole.v1.policy)`, see proto/foxhole/v1/policy.proto).
// What has no proto of Foxhole's declares it here, in the same terms: health
// and reflection, by procedure, and the plain HTTP routes, by mux pattern.

var (
	public = foxholev1.Access_ACCESS_PUBLIC
	token  = foxholev1.Access_ACCESS_TOKEN
	small  = foxholev1.Body_BODY_SMALL
	noRate = foxholev1.RateLimit_RATE_LIMIT_NONE
)

// probeProcedures are health's and reflection's methods. They are public,
// so they get small bounds of their own: a reflection stream may send 64
// KiB in all, every probe has 30 s to send its request, and no probe stream
// lives longer than 10 minutes or past the cap on them.
var probeProcedures = map[string]*foxholev1.Policy{
	"/" + grpchealth.HealthV1ServiceName + "/Check": {
		Access: public, Body: small, RateLimit: noRate, ReadTimeout: seconds(30),
	},
	"/" + grpchealth.HealthV1ServiceName + "/Watch": {
		Access: public, Body: small, RateLimit: noRate, ReadTimeout: seconds(30),
		MaxDuration: seconds(600), Slot: foxholev1.Slot_SLOT_PROBE_STREAM,
	},
	"/" + grpcreflect.ReflectV1ServiceName + "/ServerReflectionInfo": {
		Access: public, Body: foxholev1.Body_BODY_PROBE, RateLimit: noRate, ReadTimeout: seconds(30),
		MaxDuration: seconds(600), Slot: foxholev1.Slot_SLOT_PROBE_STREAM,
	},
	"/" + grpcreflect.ReflectV1AlphaServiceName + "/ServerReflectionInfo": {
		Access: public, Body: foxholev1.Body_BODY_PROBE, RateLimit: noRate, ReadTimeout: seconds(30),
		MaxDuration: seconds(600), Slot: foxholev1.Slot_SLOT_PROBE_STREAM,
	},
}

// page is the policy of the public pages and probes: GET only, no body.
var page = &foxholev1.Policy{Access: public, Body: small, RateLimit: noRate}

// httpRoutes are the plain HTTP routes, by the pattern they are mounted at.
var httpRoutes = map[string]*foxholev1.Policy{
	// The WebSocket: the session's writes and pings renew their deadlines.
	"GET /ws": {Access: token, Body: small, RateLimit: noRate, ClientAddress: true, StreamDeadlines: true},
	// A raw upload: the handler bounds the body by the file limits, and
	// renews the read deadline before every read.
	"PUT /files/{name...}": {
		Access: token, Body: foxholev1.Body_BODY_RAW, RateLimit: noRate,
		StreamDeadlines: true, Slot: foxholev1.Slot_SLOT_UPLOAD,
	},
	// A signed download link: the signature is the credential. It holds
	// one of the file owner's download slots, and renews its write
	// deadline before every write.
	"GET /files/download/{id}": {
		Access: public, Body: small, RateLimit: noRate,
		StreamDeadlines: true, Slot: foxholev1.Slot_SLOT_DOWNLOAD,
	},
	// A share link: the link is the credential, as a signed link's
	// signature is; its downloads hold the owner's slots too.
	"GET /files/shared/{id}": {
		Access: public, Body: small, RateLimit: noRate,
		StreamDeadlines: true, Slot: foxholev1.Slot_SLOT_DOWNLOAD,
	},
	// tus (resumable uploads): creation and PATCH carry file bytes, as
	// `PUT /files` does; the others are small, and creation and
	// termination count against the caller's rate.
	"OPTIONS /files/tus/{$}": page,
	"POST /files/tus/{$}": {
		Access: token, Body: foxholev1.Body_BODY_RAW, RateLimit: foxholev1.RateLimit_RATE_LIMIT_USER,
		StreamDeadlines: true, Slot: foxholev1.Slot_SLOT_UPLOAD,
	},
	"PATCH /files/tus/{id}": {
		Access: token, Body: foxholev1.Body_BODY_RAW, RateLimit: noRate,
		StreamDeadlines: true, Slot: foxholev1.Slot_SLOT_UPLOAD,
	},
	"HEAD /files/tus/{id}":   {Access: token, Body: small, RateLimit: noRate, ReadTimeout: seconds(30)},
	"DELETE /files/tus/{id}": {Access: token, Body: small, RateLimit: foxholev1.RateLimit_RATE_LIMIT_USER, ReadTimeout: seconds(30)},
	"GET /healthz":           page,
	"GET /readyz":            page,
	"GET /{$}":               page,
	"GET /docs":              page,
	"GET /assets/{name}":     page,

	// Avatars: an upload is at most FOXHOLE_AVATAR_MAX_BYTES, read whole
	// by the handler; thumbnails are public, like the profiles that link
	// them.
	"PUT /avatar":           {Access: token, Body: foxholev1.Body_BODY_RAW, RateLimit: noRate, ReadTimeout: seconds(60)},
	"DELETE /avatar":        {Access: token, Body: small, RateLimit: noRate, ReadTimeout: seconds(30)},
	"GET /avatars/{userId}": page,

	// An export streams for as long as the caller's data takes; its
	// writes renew the write deadline.
	"GET /account/export": {Access: token, Body: small, RateLimit: noRate, StreamDeadlines: true},
}

func seconds(n int64) *durationpb.Duration { return &durationpb.Duration{Seconds: n} }

// policyOf returns a method's declared policy, or nil.
func policyOf(md protoreflect.MethodDescriptor) *foxholev1.Policy {
	p, _ := proto.GetExtension(md.Options(), foxholev1.E_Policy).(*foxholev1.Policy)
	if p == nil || !md.Options().ProtoReflect().Has(foxholev1.E_Policy.TypeDescriptor()) {
		return nil
	}
	return p
}

// procedurePolicies returns the policy of every method of services, by
// path: read from the descriptors for Foxhole's services, from
// probeProcedures for health and reflection. It fails when a method has no
// policy or an incomplete one, when a service is unknown, and when a
// declaration names a method that is not registered.
func procedurePolicies(files *protoregistry.Files, services []string) (map[string]*foxholev1.Policy, error) {
	out := map[string]*foxholev1.Policy{}
	var problems []error
	probes := map[string]bool{}
	for _, svc := range services {
		if isProbeService(svc) {
			probes[svc] = true
			continue
		}
		d, err := files.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			problems = append(problems, fmt.Errorf("service %s is not in the registry: %w", svc, err))
			continue
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			problems = append(problems, fmt.Errorf("%s is not a service", svc))
			continue
		}
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			path := "/" + svc + "/" + string(md.Name())
			p := policyOf(md)
			if p == nil {
				problems = append(problems, fmt.Errorf("%s declares no policy: add option (foxhole.v1.policy) to it in its proto", path))
				continue
			}
			unary := !md.IsStreamingClient() && !md.IsStreamingServer()
			if !unary && p.GetReadTimeout() == nil && p.GetRequestTimeout() == nil {
				problems = append(problems, fmt.Errorf("%s: its policy declares neither read_timeout nor request_timeout: a stream's request must arrive within a bound", path))
				continue
			}
			if err := checkPolicy(p, unary); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", path, err))
				continue
			}
			out[path] = p
		}
	}
	for path, p := range probeProcedures {
		svc := strings.Split(path, "/")[1]
		if !probes[svc] {
			problems = append(problems, fmt.Errorf("a policy is declared for %s, which the server does not register", path))
			continue
		}
		if err := checkPolicy(p, false); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
			continue
		}
		out[path] = p
	}
	for svc := range probes {
		declared := false
		for path := range probeProcedures {
			declared = declared || strings.HasPrefix(path, "/"+svc+"/")
		}
		if !declared {
			problems = append(problems, fmt.Errorf("service %s is registered with no policy for any of its methods", svc))
		}
	}
	return out, errors.Join(problems...)
}

func isProbeService(svc string) bool {
	return svc == grpchealth.HealthV1ServiceName || svc == grpcreflect.ReflectV1ServiceName || svc == grpcreflect.ReflectV1AlphaServiceName
}

// checkPolicy refuses a policy that leaves a choice undeclared: every
// method says who may call it, how large its body may be and which rate
// limit counts it, and a unary method how long its request may take.
func checkPolicy(p *foxholev1.Policy, unary bool) error {
	var missing []string
	if p.GetAccess() == foxholev1.Access_ACCESS_UNSPECIFIED {
		missing = append(missing, "access")
	}
	if p.GetBody() == foxholev1.Body_BODY_UNSPECIFIED {
		missing = append(missing, "body")
	}
	if p.GetRateLimit() == foxholev1.RateLimit_RATE_LIMIT_UNSPECIFIED {
		missing = append(missing, "rate_limit")
	}
	if unary && p.GetReadTimeout() == nil {
		missing = append(missing, "read_timeout")
	}
	if len(missing) > 0 {
		return fmt.Errorf("its policy does not declare %s", strings.Join(missing, ", "))
	}
	for _, d := range []*durationpb.Duration{p.GetReadTimeout(), p.GetMaxDuration(), p.GetRequestTimeout()} {
		if d != nil && (d.CheckValid() != nil || d.AsDuration() <= 0) {
			return fmt.Errorf("its policy has a duration that is not positive: %v", d.AsDuration())
		}
	}
	return nil
}

// checkRoutes fails when a plain route is mounted without a policy, or a
// policy is declared for a route that is not mounted.
func checkRoutes(mounted []string) error {
	var problems []error
	for _, pattern := range mounted {
		p, ok := httpRoutes[pattern]
		if !ok {
			problems = append(problems, fmt.Errorf("route %q declares no policy: add it to httpRoutes", pattern))
			continue
		}
		if err := checkPolicy(p, false); err != nil {
			problems = append(problems, fmt.Errorf("route %q: %w", pattern, err))
		}
	}
	for pattern := range httpRoutes {
		if !slices.Contains(mounted, pattern) {
			problems = append(problems, fmt.Errorf("a policy is declared for route %q, which the server does not mount", pattern))
		}
	}
	return errors.Join(problems...)
}

// durationOf returns d as a time.Duration; nil is 0.
func durationOf(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

// routes is the mux with the record of what was mounted on it, so that
// every route's policy can be checked against what is served.
type routes struct {
	mux      *http.ServeMux
	services []string // Connect services, by full name
	plain    []string // plain routes, by pattern
	// wrap, when set, wraps every plain route's handler (tracing).
	wrap func(pattern string, h http.Handler) http.Handler
}

// service mounts a Connect service's handler at its pattern ("/pkg.Service/").
func (r *routes) service(pattern string, h http.Handler) {
	r.mux.Handle(pattern, h)
	r.services = append(r.services, strings.Trim(pattern, "/"))
}

// handle mounts a plain route.
func (r *routes) handle(pattern string, h http.Handler) {
	if r.wrap != nil {
		h = r.wrap(pattern, h)
	}
	r.mux.Handle(pattern, h)
	r.plain = append(r.plain, pattern)
}
