package client

import (
	"context"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
)

// renewBefore is how long before its expiry a token is replaced: long
// enough for a call sent with it to arrive while it still holds. A token
// that lives less than four times as long is replaced after three
// quarters of its life.
const renewBefore = time.Minute

// TokenSource hands out access tokens for one user: it trades the user's
// secret for a token (CreateToken), keeps it, and trades again shortly
// before the token expires or after the server refused it. It is safe for
// concurrent use; concurrent callers share one exchange.
type TokenSource struct {
	auth foxholev1connect.AuthServiceClient // nil: a static token

	mu      sync.Mutex
	secret  string
	token   string
	renewAt time.Time // when the token is replaced
	expires time.Time
	now     func() time.Time
}

// NewTokenSource returns a source of tokens for secret, obtained through
// auth. The first token is obtained on first use.
func NewTokenSource(auth foxholev1connect.AuthServiceClient, secret string) *TokenSource {
	return &TokenSource{auth: auth, secret: secret, now: time.Now}
}

// StaticToken returns a source that always hands out token.
func StaticToken(token string) *TokenSource {
	return &TokenSource{token: token, now: time.Now}
}

// Token returns a token that holds for a while yet, obtaining a new one
// when the last is close to its expiry.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.tokenLocked(ctx)
}

func (ts *TokenSource) tokenLocked(ctx context.Context) (string, error) {
	now := ts.now()
	if ts.auth == nil || (ts.token != "" && now.Before(ts.renewAt)) {
		return ts.token, nil
	}
	res, err := ts.auth.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: ts.secret}))
	if err != nil {
		return "", err
	}
	ts.remember(res.Msg.GetAccessToken(), res.Msg.GetExpiresAt().AsTime(), now)
	return ts.token, nil
}

func (ts *TokenSource) remember(token string, expires, now time.Time) {
	ts.token, ts.expires = token, expires
	ts.renewAt = expires.Add(-min(renewBefore, expires.Sub(now)/4))
}

// Remember hands the source a token obtained earlier for the same secret,
// such as one a command-line tool saved, to use until it is due for
// renewal.
func (ts *TokenSource) Remember(token string, expires time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.auth != nil && token != "" {
		ts.remember(token, expires, ts.now())
	}
}

// Current returns the token last handed out and its expiry, to save for a
// later Remember; "" before the first.
func (ts *TokenSource) Current() (string, time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.token, ts.expires
}

// rotate calls RotateSecret through call with a token and the secret held
// ("" for a static token), and goes on with the secret it returns. No token
// is obtained meanwhile: a session the rotation ends reconnects with the
// new secret, never the old.
func (ts *TokenSource) rotate(ctx context.Context, call func(token, secret string) (newSecret string, err error)) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	tok, err := ts.tokenLocked(ctx)
	if err != nil {
		return err
	}
	secret, err := call(tok, ts.secret)
	if err != nil {
		return err
	}
	if ts.auth != nil {
		ts.secret, ts.token = secret, ""
	}
	return nil
}

// Expires reports when the token last handed out expires; zero for a
// static token.
func (ts *TokenSource) Expires() time.Time {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.expires
}

// Invalidate forgets token, which the server refused (it was revoked by a
// rotation, or the server's key changed), so that the next Token obtains a
// new one. A newer token obtained meanwhile is kept.
func (ts *TokenSource) Invalidate(token string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.auth != nil && ts.token == token {
		ts.token = ""
	}
}

// bearer sets `Authorization: Bearer <token>` from the client's token
// source on every call. A unary call the server refused as unauthenticated
// is sent once more with a fresh token: the server checks the token before
// it reads the request, so the first attempt did nothing.
type bearer struct{ c *Client }

func (b bearer) token(ctx context.Context) (*TokenSource, string, error) {
	ts := b.c.Tokens
	if ts == nil {
		return nil, "", nil
	}
	tok, err := ts.Token(ctx)
	return ts, tok, err
}

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ts, tok, err := b.token(ctx)
		if err != nil {
			return nil, err
		}
		if ts == nil {
			return next(ctx, req)
		}
		setBearer(req.Header(), tok)
		res, err := next(ctx, req)
		if connect.CodeOf(err) != connect.CodeUnauthenticated || ts.auth == nil {
			return res, err
		}
		ts.Invalidate(tok)
		if tok, err = ts.Token(ctx); err != nil {
			return nil, err
		}
		setBearer(req.Header(), tok)
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		ts, tok, err := b.token(ctx)
		if err != nil {
			return &failedConn{StreamingClientConn: next(ctx, spec), err: err}
		}
		conn := next(ctx, spec)
		if ts != nil {
			setBearer(conn.RequestHeader(), tok)
			return &refusedConn{StreamingClientConn: conn, ts: ts, token: tok}
		}
		return conn
	}
}

func (bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func setBearer(h http.Header, token string) { h.Set("Authorization", "Bearer "+token) }

// refusedConn forgets the stream's token when the server refuses it, so
// that the next call (a Subscribe reconnecting) obtains a new one.
type refusedConn struct {
	connect.StreamingClientConn
	ts    *TokenSource
	token string
}

func (c *refusedConn) Receive(m any) error {
	err := c.StreamingClientConn.Receive(m)
	if connect.CodeOf(err) == connect.CodeUnauthenticated {
		c.ts.Invalidate(c.token)
	}
	return err
}

// failedConn is a stream that could not get a token: it fails at once.
type failedConn struct {
	connect.StreamingClientConn
	err error
}

func (c *failedConn) Send(any) error    { return c.err }
func (c *failedConn) Receive(any) error { return c.err }

// Bearer returns an interceptor that sends token with every call, for
// clients of procedures beyond the generated ones.
func Bearer(token string) connect.Interceptor {
	return bearer{&Client{Tokens: StaticToken(token)}}
}
