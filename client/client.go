// Package client is Foxhole's Go client: the generated Connect clients of
// every service behind one constructor, a token source that trades the
// user's secret for access tokens and renews them, a Subscribe that
// reconnects and resumes, streaming file transfers, rooms, and paging
// through a conversation's history.
//
// It lives outside internal/ so that other modules can import it, beside
// gen/ whose clients it wraps; the command line (cmd/foxholectl), the load
// tool and Foxhole's own tests use it too.
package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
)

// Protocol is a way of calling Foxhole. Every one reaches every RPC.
type Protocol string

const (
	Connect     Protocol = "connect"      // Connect with binary protobuf
	ConnectJSON Protocol = "connect-json" // Connect with JSON, as curl and browsers send it
	GRPC        Protocol = "grpc"
	GRPCWeb     Protocol = "grpcweb"
)

// Protocols lists every protocol.
var Protocols = []Protocol{ConnectJSON, Connect, GRPC, GRPCWeb}

// ParseProtocol returns the protocol named s.
func ParseProtocol(s string) (Protocol, error) {
	for _, p := range Protocols {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, len(Protocols))
	for i, p := range Protocols {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown protocol %q: want one of %s", s, strings.Join(names, ", "))
}

// Options returns the connect-go client options of p.
func (p Protocol) Options() []connect.ClientOption {
	switch p {
	case ConnectJSON:
		return []connect.ClientOption{connect.WithProtoJSON()}
	case GRPC:
		return []connect.ClientOption{connect.WithGRPC()}
	case GRPCWeb:
		return []connect.ClientOption{connect.WithGRPCWeb()}
	}
	return nil
}

// HTTPClient returns an HTTP client for a Foxhole without TLS. With h2c
// it speaks HTTP/2 over plain TCP, which gRPC needs and which carries
// every call and stream on one connection; without, HTTP/1.1, as curl and
// browsers do. Responses have no overall timeout: streams may last.
func HTTPClient(h2c bool) *http.Client {
	var p http.Protocols
	if h2c {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	return &http.Client{Transport: &http.Transport{
		Protocols:           &p,
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// Client calls one Foxhole in one protocol. The service clients are
// exported for every RPC; the methods cover what needs more than one call.
// A Client is safe for concurrent use.
type Client struct {
	Auth     foxholev1connect.AuthServiceClient
	Profile  foxholev1connect.ProfileServiceClient
	File     foxholev1connect.FileServiceClient
	Realtime foxholev1connect.RealtimeServiceClient
	Rooms    foxholev1connect.RoomServiceClient

	// Tokens authenticates every call but Register and CreateToken; nil:
	// calls go without a token.
	Tokens *TokenSource

	baseURL string       // the server's, for plain HTTP routes
	http    *http.Client // for plain HTTP routes
}

// Option configures New.
type Option func(*config)

type config struct {
	protocol Protocol
	http     *http.Client
	tokens   func(foxholev1connect.AuthServiceClient) *TokenSource
	opts     []connect.ClientOption
}

// WithProtocol picks the protocol; the default is Connect (binary).
func WithProtocol(p Protocol) Option { return func(c *config) { c.protocol = p } }

// WithHTTPClient sets the HTTP client; the default is HTTPClient(true).
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.http = hc } }

// WithSecret authenticates calls with tokens obtained for the user's
// secret, renewed before they expire.
func WithSecret(secret string) Option {
	return func(c *config) {
		c.tokens = func(a foxholev1connect.AuthServiceClient) *TokenSource { return NewTokenSource(a, secret) }
	}
}

// WithToken authenticates calls with a token obtained elsewhere, which is
// never renewed; an empty token means none.
func WithToken(token string) Option {
	return func(c *config) {
		c.tokens = nil
		if token != "" {
			c.tokens = func(foxholev1connect.AuthServiceClient) *TokenSource { return StaticToken(token) }
		}
	}
}

// WithClientOptions adds connect-go options, such as interceptors.
func WithClientOptions(opts ...connect.ClientOption) Option {
	return func(c *config) { c.opts = append(c.opts, opts...) }
}

// New returns a client of the Foxhole at serverURL, such as
// http://127.0.0.1:8080.
func New(serverURL string, opts ...Option) *Client {
	cfg := config{protocol: Connect}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.http == nil {
		cfg.http = HTTPClient(true)
	}
	serverURL = strings.TrimRight(serverURL, "/")
	base := append(cfg.protocol.Options(), cfg.opts...)
	c := &Client{Auth: foxholev1connect.NewAuthServiceClient(cfg.http, serverURL, base...), baseURL: serverURL, http: cfg.http}
	if cfg.tokens != nil {
		c.Tokens = cfg.tokens(c.Auth)
	}
	authed := append(base, connect.WithInterceptors(bearer{c}))
	c.Profile = foxholev1connect.NewProfileServiceClient(cfg.http, serverURL, authed...)
	c.File = foxholev1connect.NewFileServiceClient(cfg.http, serverURL, authed...)
	c.Realtime = foxholev1connect.NewRealtimeServiceClient(cfg.http, serverURL, authed...)
	c.Rooms = foxholev1connect.NewRoomServiceClient(cfg.http, serverURL, authed...)
	c.Auth = authClient{c.Auth, c}
	return c
}

// authClient sends Register and CreateToken without a token, and
// RotateSecret with one and, when the request leaves it out, the secret the
// client holds, after which the client goes on with the new secret.
type authClient struct {
	foxholev1connect.AuthServiceClient
	c *Client
}

func (a authClient) RotateSecret(ctx context.Context, req *connect.Request[foxholev1.RotateSecretRequest]) (*connect.Response[foxholev1.RotateSecretResponse], error) {
	ts := a.c.Tokens
	if ts == nil {
		return a.AuthServiceClient.RotateSecret(ctx, req)
	}
	var res *connect.Response[foxholev1.RotateSecretResponse]
	err := ts.rotate(ctx, func(token, secret string) (string, error) {
		r := req
		if req.Msg.GetUserSecret() == "" && secret != "" {
			// The caller's message stays as it was.
			msg := proto.CloneOf(req.Msg)
			msg.UserSecret = secret
			r = connect.NewRequest(msg)
			maps.Copy(r.Header(), req.Header())
		}
		setBearer(r.Header(), token)
		var err error
		if res, err = a.AuthServiceClient.RotateSecret(ctx, r); err != nil {
			return "", err
		}
		return res.Msg.GetUserSecret(), nil
	})
	return res, err
}

// Register creates a user named name (empty: the server picks one) and,
// when the client has no credentials yet, authenticates it as that user:
// call it before the client is shared between goroutines. The secret in
// the answer is shown once: keep it.
func (c *Client) Register(ctx context.Context, name string) (*foxholev1.RegisterResponse, error) {
	res, err := c.Auth.Register(ctx, connect.NewRequest(&foxholev1.RegisterRequest{ScreenName: name}))
	if err != nil {
		return nil, err
	}
	if c.Tokens == nil {
		c.Tokens = NewTokenSource(c.Auth, res.Msg.GetUserSecret())
	}
	return res.Msg, nil
}

// RotateSecret replaces the user's secret, which ends every token issued
// before, and goes on with the new one. The new secret is shown once. The
// server wants the current secret as proof: a client made WithSecret (or
// Register) sends the one it holds; one made WithToken holds none and
// must use RotateSecretWith.
func (c *Client) RotateSecret(ctx context.Context) (string, error) {
	if c.Tokens == nil || c.Tokens.auth == nil {
		return "", errNoSecret
	}
	return c.RotateSecretWith(ctx, "")
}

// RotateSecretWith is RotateSecret proving the current secret given; ""
// sends the one the client holds.
func (c *Client) RotateSecretWith(ctx context.Context, current string) (string, error) {
	res, err := c.Auth.RotateSecret(ctx, connect.NewRequest(&foxholev1.RotateSecretRequest{UserSecret: current}))
	if err != nil {
		return "", err
	}
	return res.Msg.GetUserSecret(), nil
}

// errNoSecret answers RotateSecret on a client that holds only a token.
var errNoSecret = errors.New("RotateSecret needs the current user secret, and this client holds only a token: use RotateSecretWith")
