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
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
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

// HTTPClient returns an HTTP client for a Foxhole without TLS, on one
// connection. With h2c it speaks HTTP/2 over plain TCP, which gRPC needs
// and which carries every call and stream on one connection; without,
// HTTP/1.1, as curl and browsers do. Responses have no overall timeout:
// streams may last.
func HTTPClient(h2c bool) *http.Client {
	return &http.Client{Transport: plainTransport(h2c)}
}

// HTTPSClient returns an HTTP client for a Foxhole behind TLS, on one
// connection: HTTP/2 by ALPN, which gRPC needs and which every protocol
// can use, or HTTP/1.1 where the server offers only that. tc configures
// TLS (trusted roots, a client certificate); nil: the system's roots.
func HTTPSClient(tc *tls.Config) *http.Client {
	return &http.Client{Transport: tlsTransport(tc)}
}

// HTTPClientFor returns the HTTP client that New uses by default for
// serverURL: NewHTTPClient(serverURL, tc, DefaultConnections).
func HTTPClientFor(serverURL string, tc *tls.Config) *http.Client {
	return NewHTTPClient(serverURL, tc, DefaultConnections)
}

// Transport returns the transport of one connection that speaks every
// protocol to serverURL: HTTPSClient(tc)'s for an https:// URL,
// HTTPClient(true)'s (h2c) otherwise. It is what Pool spreads calls over,
// for a client that wants settings of its own, such as a dialer.
func Transport(serverURL string, tc *tls.Config) *http.Transport {
	if strings.HasPrefix(strings.ToLower(serverURL), "https://") {
		return tlsTransport(tc)
	}
	return plainTransport(true)
}

// plainTransport is HTTPClient's: h2c only, or HTTP/1.1 only.
func plainTransport(h2c bool) *http.Transport {
	var p http.Protocols
	if h2c {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	return &http.Transport{
		Protocols:           &p,
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
}

// tlsTransport is HTTPSClient's, with a copy of tc of its own.
func tlsTransport(tc *tls.Config) *http.Transport {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	if tc != nil {
		tc = tc.Clone()
	}
	return &http.Transport{
		Protocols:           &p,
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   true,
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
}

// LoadCA returns a TLS configuration that trusts the PEM certificates in
// file (a private deployment's own CA) in place of the system's roots.
func LoadCA(file string) (*tls.Config, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", file)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
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
	tls      *tls.Config
	conns    int
	tokens   func(foxholev1connect.AuthServiceClient) *TokenSource
	opts     []connect.ClientOption
}

// WithProtocol picks the protocol; the default is Connect (binary).
func WithProtocol(p Protocol) Option { return func(c *config) { c.protocol = p } }

// WithHTTPClient sets the HTTP client; the default is NewHTTPClient for
// the server's URL, with the TLS configuration of WithTLS and the
// connections of WithConnections.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.http = hc } }

// WithConnections sets how many HTTP/2 connections the default HTTP client
// spreads calls and streams over, each on the next in turn (see Pool): a Go
// server serves each connection in one loop, which caps how many calls per
// second one connection carries. 1 (or less) means one connection; the
// default is DefaultConnections. It is unused with WithHTTPClient.
func WithConnections(n int) Option { return func(c *config) { c.conns = n } }

// WithTLS sets the TLS configuration of the default HTTP client for an
// https:// URL, such as LoadCA's for a server whose certificate a private
// CA issued. It is unused with WithHTTPClient.
func WithTLS(tc *tls.Config) Option { return func(c *config) { c.tls = tc } }

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
// http://127.0.0.1:8080 or https://foxhole.example.com; every protocol
// works on both.
func New(serverURL string, opts ...Option) *Client {
	cfg := config{protocol: Connect, conns: DefaultConnections}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.http == nil {
		cfg.http = NewHTTPClient(serverURL, cfg.tls, cfg.conns)
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
