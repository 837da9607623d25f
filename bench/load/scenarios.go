package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"

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

// Target is a Foxhole to load, spoken to in one protocol.
type Target struct {
	URL      string
	Protocol string
	protocol client.Protocol
	http     *http.Client
}

// NewTarget returns a Target; protocol is one of ProtocolNames. Plain JSON
// POSTs go over HTTP/1.1 with a connection per caller, as curl does; the
// client's protocols over h2c, as Go services call.
func NewTarget(url, protocol string) (*Target, error) {
	t := &Target{URL: url, Protocol: protocol, protocol: client.ConnectJSON}
	if protocol != HTTPJSON {
		p, err := client.ParseProtocol(protocol)
		if err != nil {
			return nil, fmt.Errorf("%w, or %s", err, HTTPJSON)
		}
		t.protocol = p
	}
	t.http = client.HTTPClient(protocol != HTTPJSON)
	return t, nil
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

// NewUser registers a user and obtains its token.
func (t *Target) NewUser(ctx context.Context) (User, error) {
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
