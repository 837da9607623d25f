package load

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"foxhole.dev/foxhole/client"
)

// JWTBaseline is the ceiling for an authenticated unary call: a bare
// net/http handler on h2c that verifies an HS256 JWT the way Foxhole does
// and answers the JSON GetProfile answers, with no database and no RPC
// framework.
type JWTBaseline struct {
	URL    string
	token  string
	server *http.Server
}

// profileJSON is a GetProfile answer as Connect JSON prints it.
var profileJSON = []byte(`{"user":{"id":"0123456789abcdefghjkmnpqrs","screenName":"baseline","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}}`)

// StartJWTBaseline serves the baseline on a free loopback port.
func StartJWTBaseline() (*JWTBaseline, error) {
	key := make([]byte, 64)
	rand.Read(key)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("foxhole"), jwt.WithExpirationRequired())
	now := time.Now()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "foxhole", Subject: "0123456789abcdefghjkmnpqrs",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}).SignedString(key)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /profile", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		var claims jwt.RegisteredClaims
		if len(auth) < 8 || auth[:7] != "Bearer " {
			http.Error(w, `{"code":"unauthenticated"}`, http.StatusUnauthorized)
			return
		}
		if _, err := parser.ParseWithClaims(auth[7:], &claims, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
			http.Error(w, `{"code":"unauthenticated"}`, http.StatusUnauthorized)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(profileJSON)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: &p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return &JWTBaseline{URL: "http://" + ln.Addr().String(), token: token, server: srv}, nil
}

// Close stops the baseline server.
func (b *JWTBaseline) Close() error { return b.server.Close() }

// Op returns the op factory that loads the baseline as the http-json
// protocol loads GetProfile: a POST with a bearer token and a JSON body.
func (b *JWTBaseline) Op() func(int) (Op, error) {
	op := postJSON(client.HTTPClient(false), b.URL+"/profile", b.token)
	return func(int) (Op, error) { return op, nil }
}

// postJSON returns an op that POSTs {} with a bearer token, as curl would
// call a Connect unary method, and reads the whole answer.
func postJSON(client *http.Client, url, token string) Op {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte("{}")))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
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
