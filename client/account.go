package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// DeleteAccount sends the call with the client's token and, when the
// request leaves the secret out, the secret the client holds.
func (a authClient) DeleteAccount(ctx context.Context, req *connect.Request[foxholev1.DeleteAccountRequest]) (*connect.Response[foxholev1.DeleteAccountResponse], error) {
	ts := a.c.Tokens
	if ts == nil {
		return a.AuthServiceClient.DeleteAccount(ctx, req)
	}
	token, err := ts.Token(ctx)
	if err != nil {
		return nil, err
	}
	r := req
	if req.Msg.GetUserSecret() == "" {
		ts.mu.Lock()
		secret := ts.secret
		ts.mu.Unlock()
		msg := proto.CloneOf(req.Msg)
		msg.UserSecret = secret
		r = connect.NewRequest(msg)
		for k, v := range req.Header() {
			r.Header()[k] = v
		}
	}
	setBearer(r.Header(), token)
	return a.AuthServiceClient.DeleteAccount(ctx, r)
}

// DeleteAccount deletes the user's account for good, proving secret (""
// the secret the client holds): its profile, avatar, files, memberships and
// messages go (see AuthService.DeleteAccount). The client is of no use
// afterwards.
func (c *Client) DeleteAccount(ctx context.Context, secret string) error {
	_, err := c.Auth.DeleteAccount(ctx, connect.NewRequest(&foxholev1.DeleteAccountRequest{UserSecret: secret}))
	return err
}

// SetAvatar makes the image r yields (PNG, JPEG, GIF or WebP, recognised
// from its bytes) the user's avatar, and returns the profile with its new
// avatar URL.
func (c *Client) SetAvatar(ctx context.Context, r io.Reader) (*foxholev1.User, error) {
	res, err := c.plain(ctx, http.MethodPut, "/avatar", r)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	u := new(foxholev1.User)
	if err := protojson.Unmarshal(b, u); err != nil {
		return nil, fmt.Errorf("read the profile: %w", err)
	}
	return u, nil
}

// RemoveAvatar removes the user's avatar.
func (c *Client) RemoveAvatar(ctx context.Context) error {
	res, err := c.plain(ctx, http.MethodDelete, "/avatar", nil)
	if err != nil {
		return err
	}
	return res.Body.Close()
}

// Export writes the zip of everything the server holds on the user
// (profile.json, files/, messages.jsonl, rooms.json) to w, as it arrives.
func (c *Client) Export(ctx context.Context, w io.Writer) (int64, error) {
	res, err := c.plain(ctx, http.MethodGet, "/account/export", nil)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	return io.Copy(w, res.Body)
}

// plain sends a request to one of the server's plain HTTP routes with the
// client's token, and returns the answer when it is a success, else the
// error it carries, as a *connect.Error.
func (c *Client) plain(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return nil, err
	}
	if c.Tokens != nil {
		token, err := c.Tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		setBearer(req.Header, token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 == 2 {
		return res, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	return nil, httpError(res.StatusCode, b)
}

// httpError reads the JSON error of a plain route:
// {"error": {"code": "not_found", "message": "…"}}.
func httpError(status int, b []byte) error {
	var code connect.Code
	msg := strings.TrimSpace(string(b))
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Code != "" {
		_ = code.UnmarshalText([]byte(e.Error.Code))
		msg = e.Error.Message
	}
	if code == 0 {
		code = connect.CodeUnknown
		switch status {
		case http.StatusNotFound:
			code = connect.CodeNotFound
		case http.StatusUnauthorized:
			code = connect.CodeUnauthenticated
		case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
			code = connect.CodeResourceExhausted
		case http.StatusBadRequest:
			code = connect.CodeInvalidArgument
		}
	}
	return connect.NewError(code, errors.New(msg))
}
