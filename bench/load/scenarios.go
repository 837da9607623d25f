package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
)

// ProtocolNames lists the protocols by the names the flags use: the
// client's, and plain JSON POSTs.
func ProtocolNames() []string {
	names := []string{HTTPJSON}
	for _, p := range client.Protocols {
		names = append(names, string(p))
	}
	return names
}

// HTTPJSON is the protocol name of plain JSON POSTs, as curl sends Connect
// unary calls; the JWT baseline is loaded the same way.
const HTTPJSON = "http-json"

// Unary names the unary scenarios.
var Unary = []string{"register", "token", "profile", "mixed", "message"}

// Transports names the ways the load tool connects, as the flags take
// them: HTTP/1.1 with a connection per caller ("h1"), HTTP/2 over one
// connection ("h2"), or over N connections with calls spread over them
// in turn ("h2x4"). gRPC needs HTTP/2.
var Transports = []string{"h1", "h2", "h2x4"}

// Target is a Foxhole, or the baselines standing in for one, to load in
// one protocol over one transport.
type Target struct {
	URL       string
	Protocol  string
	Transport string
	protocol  client.Protocol
	http      *http.Client
	baseline  bool
}

// NewTarget returns a Target; protocol is one of ProtocolNames, transport
// one of Transports or empty for the protocol's usual: plain JSON POSTs go
// over HTTP/1.1 with a connection per caller, as curl does; the client's
// protocols over one h2c connection.
func NewTarget(url, protocol, transport string) (*Target, error) {
	t := &Target{URL: url, Protocol: protocol, protocol: client.ConnectJSON}
	if protocol != HTTPJSON {
		p, err := client.ParseProtocol(protocol)
		if err != nil {
			return nil, fmt.Errorf("%w, or %s", err, HTTPJSON)
		}
		t.protocol = p
	}
	if transport == "" {
		transport = map[bool]string{true: "h1", false: "h2"}[protocol == HTTPJSON]
	}
	if transport == "h1" && t.protocol == client.GRPC {
		return nil, fmt.Errorf("gRPC needs HTTP/2: pick another transport than h1")
	}
	hc, err := httpClient(url, transport)
	if err != nil {
		return nil, err
	}
	t.Transport, t.http = transport, hc
	return t, nil
}

// NewBaselineTarget returns the baselines served at url as a Target that
// NewTarget's would load: the same protocol, transport and client, so
// that only the server differs. It answers the profile and token
// scenarios.
func NewBaselineTarget(url, protocol, transport string) (*Target, error) {
	t, err := NewTarget(url, protocol, transport)
	if err == nil {
		t.baseline = true
	}
	return t, err
}

// httpClient returns the HTTP client of a transport. Each HTTP/2
// transport may hold one connection: a burst of calls on a fresh one would
// otherwise dial a connection for each waiting call.
func httpClient(url, transport string) (*http.Client, error) {
	if transport == "h1" {
		return client.HTTPClient(false), nil
	}
	n := 1
	if transport != "h2" {
		var err error
		if n, err = strconv.Atoi(strings.TrimPrefix(transport, "h2x")); err != nil || !strings.HasPrefix(transport, "h2x") || n < 1 {
			return nil, fmt.Errorf("unknown transport %q: want h1, h2 or h2xN (N connections)", transport)
		}
	}
	return &http.Client{Transport: client.Pool(n, func() http.RoundTripper {
		t := client.Transport(url, nil)
		t.MaxConnsPerHost = 1
		return t
	})}, nil
}

// client returns a client of the target carrying token when it is not
// empty.
func (t *Target) client(token string) *client.Client {
	return client.New(t.URL, client.WithProtocol(t.protocol), client.WithHTTPClient(t.http), client.WithToken(token))
}

// User is a registered user with a token.
type User struct {
	ID, Secret, Token string
}

// NewUser registers a user and obtains its token; the baselines have one
// user, whose secret and token the tool knows.
func (t *Target) NewUser(ctx context.Context) (User, error) {
	if t.baseline {
		token, _, err := signBaselineToken(baselineUser, time.Now())
		return User{ID: baselineUser, Secret: baselineSecret, Token: token}, err
	}
	c := t.client("")
	reg, err := c.Register(ctx, "")
	if err != nil {
		return User{}, fmt.Errorf("register: %w", err)
	}
	tok, err := c.Tokens.Token(ctx)
	if err != nil {
		return User{}, fmt.Errorf("create token: %w", err)
	}
	return User{ID: reg.GetUser().GetId(), Secret: reg.GetUserSecret(), Token: tok}, nil
}

// UnaryOp returns the op factory of a unary scenario.
func (t *Target) UnaryOp(ctx context.Context, scenario string) (func(int) (Op, error), error) {
	if t.baseline && scenario != "profile" && scenario != "token" {
		return nil, fmt.Errorf("the baselines answer the profile and token scenarios, not %q", scenario)
	}
	switch scenario {
	case "register":
		c := t.client("").Auth
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
			c := t.client("").Auth
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
				return postJSON(t.http, t.URL+"/"+foxholev1connect.ProfileServiceName+"/GetProfile", u.Token, []byte("{}")), nil
			}
			c := t.client(u.Token).Profile
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
			c := t.client(u.Token).Realtime
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
			p, a := t.client(u.Token).Profile, t.client("").Auth
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

// postJSON returns an op that POSTs body, with a bearer token when token
// is not empty, as curl would call a Connect unary method, and reads the
// whole answer.
func postJSON(client *http.Client, url, token string, body []byte) Op {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("answered %d", res.StatusCode)
		}
		return nil
	}
}
