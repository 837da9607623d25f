package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
)

// Protocols are the ways of calling Foxhole, by the names the flags use.
var Protocols = map[string][]connect.ClientOption{
	"connect-json":  {connect.WithProtoJSON()},
	"connect-proto": nil,
	"grpc":          {connect.WithGRPC()},
	"grpc-web":      {connect.WithGRPCWeb()},
}

// ProtocolNames lists the protocols in a stable order.
func ProtocolNames() []string {
	names := []string{HTTPJSON}
	for n := range Protocols {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HTTPClient speaks HTTP/2 without TLS (h2c) when h2c is set, as gRPC
// needs, else HTTP/1.1 with a connection per caller, as wrk and curl do.
func HTTPClient(h2c bool) *http.Client {
	var p http.Protocols
	if h2c {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	return &http.Client{Transport: &http.Transport{Protocols: &p, MaxIdleConnsPerHost: 1024}, Timeout: time.Minute}
}

// HTTPJSON is the protocol name of plain JSON POSTs, as curl sends Connect
// unary calls; the JWT baseline is loaded the same way.
const HTTPJSON = "http-json"

// Unary names the unary scenarios.
var Unary = []string{"register", "token", "profile", "mixed", "message"}

// Target is a Foxhole to load, spoken to in one protocol.
type Target struct {
	URL      string
	Protocol string
	client   *http.Client
}

// NewTarget returns a Target; protocol is a key of Protocols.
func NewTarget(url, protocol string) (*Target, error) {
	if _, ok := Protocols[protocol]; !ok && protocol != HTTPJSON {
		return nil, fmt.Errorf("unknown protocol %q (want one of %v)", protocol, ProtocolNames())
	}
	return &Target{URL: url, Protocol: protocol, client: HTTPClient(protocol != HTTPJSON)}, nil
}

func (t *Target) auth(token string) foxholev1connect.AuthServiceClient {
	return foxholev1connect.NewAuthServiceClient(t.client, t.URL, t.opts(token)...)
}

func (t *Target) profile(token string) foxholev1connect.ProfileServiceClient {
	return foxholev1connect.NewProfileServiceClient(t.client, t.URL, t.opts(token)...)
}

func (t *Target) opts(token string) []connect.ClientOption {
	// Plain JSON POSTs set up their users with Connect JSON on HTTP/1.1.
	opts := append([]connect.ClientOption{connect.WithProtoJSON()}, Protocols[t.Protocol]...)
	if token != "" {
		opts = append(opts, connect.WithInterceptors(Bearer(token)))
	}
	return opts
}

// User is a registered user with a token.
type User struct {
	ID, Secret, Token string
}

// NewUser registers a user and obtains its token.
func (t *Target) NewUser(ctx context.Context) (User, error) {
	reg, err := t.auth("").Register(ctx, connect.NewRequest(&foxholev1.RegisterRequest{}))
	if err != nil {
		return User{}, fmt.Errorf("register: %w", err)
	}
	tok, err := t.auth("").CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: reg.Msg.GetUserSecret()}))
	if err != nil {
		return User{}, fmt.Errorf("create token: %w", err)
	}
	return User{ID: reg.Msg.GetUser().GetId(), Secret: reg.Msg.GetUserSecret(), Token: tok.Msg.GetAccessToken()}, nil
}

// UnaryOp returns the op factory of a unary scenario.
func (t *Target) UnaryOp(ctx context.Context, scenario string) (func(int) (Op, error), error) {
	switch scenario {
	case "register":
		c := t.auth("")
		return func(int) (Op, error) {
			return func(ctx context.Context) error {
				_, err := c.Register(ctx, connect.NewRequest(&foxholev1.RegisterRequest{}))
				return err
			}, nil
		}, nil
	case "token":
		return func(int) (Op, error) {
			u, err := t.NewUser(ctx)
			if err != nil {
				return nil, err
			}
			c := t.auth("")
			return func(ctx context.Context) error {
				_, err := c.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: u.Secret}))
				return err
			}, nil
		}, nil
	case "profile":
		return func(int) (Op, error) {
			u, err := t.NewUser(ctx)
			if err != nil {
				return nil, err
			}
			if t.Protocol == HTTPJSON {
				return postJSON(t.client, t.URL+"/"+foxholev1connect.ProfileServiceName+"/GetProfile", u.Token), nil
			}
			c := t.profile(u.Token)
			return func(ctx context.Context) error {
				_, err := c.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
				return err
			}, nil
		}, nil
	case "message":
		// SendMessage broadcasts: each one an event stored (a database
		// write in commit order) and published.
		return func(int) (Op, error) {
			u, err := t.NewUser(ctx)
			if err != nil {
				return nil, err
			}
			c := foxholev1connect.NewRealtimeServiceClient(t.client, t.URL, t.opts(u.Token)...)
			return func(ctx context.Context) error {
				_, err := c.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "load"}))
				return err
			}, nil
		}, nil
	case "mixed":
		// A session's blend: mostly reads of one's own and others'
		// profiles, some renames, now and then a fresh token.
		other, err := t.NewUser(ctx)
		if err != nil {
			return nil, err
		}
		return func(int) (Op, error) {
			u, err := t.NewUser(ctx)
			if err != nil {
				return nil, err
			}
			p, a := t.profile(u.Token), t.auth("")
			return func(ctx context.Context) error {
				var err error
				switch n := rand.IntN(100); {
				case n < 70:
					_, err = p.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
				case n < 90:
					_, err = p.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: other.ID}))
				case n < 95:
					_, err = p.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{
						User:       &foxholev1.User{ScreenName: fmt.Sprint("user ", n)},
						UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"screen_name"}},
					}))
				default:
					_, err = a.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: u.Secret}))
				}
				return err
			}, nil
		}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", scenario)
}

// Bearer is a client interceptor that sets `Authorization: Bearer <token>`
// on every call.
type Bearer string

// WrapUnary implements connect.Interceptor.
func (b Bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

// WrapStreamingClient implements connect.Interceptor.
func (b Bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

// WrapStreamingHandler implements connect.Interceptor.
func (b Bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
