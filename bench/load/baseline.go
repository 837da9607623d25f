package load

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"foxhole.dev/foxhole/client"
)

// The baselines are the ceilings Foxhole is measured against: bare net/http
// handlers doing the least work a call of each kind needs, with no
// database, no RPC framework and no limits.
//
//   - POST /profile verifies an HS256 JWT the way Foxhole does and answers
//     the JSON GetProfile answers: the ceiling of an authenticated call.
//   - POST /token hashes the secret in the body, finds its user in a map,
//     signs an HS256 JWT and answers the JSON CreateToken answers: the
//     ceiling of token issuance.
//   - GET /baseline/ws relays every text frame to every connected
//     WebSocket: the ceiling of realtime fan-out.
//
// The key and the one secret are fixed, so that the load tool can make
// tokens and calls for a baseline running in another process.
var (
	baselineKey    = []byte("foxhole-bench baseline signing key; not a secret")
	baselineSecret = "fxs_baseline-secret"
	baselineUser   = "0123456789abcdefghjkmnpqrs"
)

// profileJSON is a GetProfile answer as Connect JSON prints it.
var profileJSON = []byte(`{"user":{"id":"0123456789abcdefghjkmnpqrs","screenName":"baseline","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}}`)

// BaselineHandler serves the baselines.
func BaselineHandler() http.Handler {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("foxhole"), jwt.WithExpirationRequired())
	users := map[[sha256.Size]byte]string{sha256.Sum256([]byte(baselineSecret)): baselineUser}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /profile", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		var claims jwt.RegisteredClaims
		if len(auth) < 8 || auth[:7] != "Bearer " {
			http.Error(w, `{"code":"unauthenticated"}`, http.StatusUnauthorized)
			return
		}
		if _, err := parser.ParseWithClaims(auth[7:], &claims, func(*jwt.Token) (any, error) { return baselineKey, nil }); err != nil {
			http.Error(w, `{"code":"unauthenticated"}`, http.StatusUnauthorized)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(profileJSON)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ UserSecret string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&req); err != nil {
			http.Error(w, `{"code":"invalid_argument"}`, http.StatusBadRequest)
			return
		}
		user, ok := users[sha256.Sum256([]byte(req.UserSecret))]
		if !ok {
			http.Error(w, `{"code":"unauthenticated"}`, http.StatusUnauthorized)
			return
		}
		token, expires, err := signBaselineToken(user, time.Now())
		if err != nil {
			http.Error(w, `{"code":"internal"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"accessToken": token, "tokenType": "Bearer", "expiresAt": expires.Format(time.RFC3339)})
	})
	var relay wsRelay
	mux.HandleFunc("GET /baseline/ws", relay.serve)
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	return mux
}

func signBaselineToken(user string, now time.Time) (string, time.Time, error) {
	expires := now.Add(time.Hour)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "foxhole", "sub": user, "iat": now.Unix(), "exp": expires.Unix(), "ver": 1,
	}).SignedString(baselineKey)
	return token, expires, err
}

// wsRelay is the WebSocket baseline.
type wsRelay struct {
	mu    sync.RWMutex
	conns map[*websocket.Conn]struct{}
}

func (b *wsRelay) serve(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	b.mu.Lock()
	if b.conns == nil {
		b.conns = map[*websocket.Conn]struct{}{}
	}
	b.conns[c] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		c.CloseNow()
	}()
	for {
		_, data, err := c.Read(context.Background())
		if err != nil {
			return
		}
		b.mu.RLock()
		for peer := range b.conns {
			wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = peer.Write(wctx, websocket.MessageText, data)
			cancel()
		}
		b.mu.RUnlock()
	}
}

// Baseline is the baselines served in this process, for tests and single
// runs; the report runs them in a process of their own.
type Baseline struct {
	URL    string
	server *http.Server
}

// StartBaseline serves the baselines on a free loopback port.
func StartBaseline() (*Baseline, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := ServeBaseline(ln)
	return &Baseline{URL: "http://" + ln.Addr().String(), server: srv}, nil
}

// ServeBaseline serves the baselines on ln, over HTTP/1.1 and h2c, until
// the returned server is closed.
func ServeBaseline(ln net.Listener) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: BaselineHandler(), Protocols: &p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv
}

// Close stops the baseline server.
func (b *Baseline) Close() error { return b.server.Close() }

// ProfileBaselineOp returns the op factory that loads the JWT baseline at
// url as the http-json protocol loads GetProfile: a POST with a bearer
// token and a JSON body.
func ProfileBaselineOp(url string) (func(int) (Op, error), error) {
	token, _, err := signBaselineToken(baselineUser, time.Now())
	if err != nil {
		return nil, err
	}
	op := postJSON(client.HTTPClient(false), url+"/profile", token, []byte("{}"))
	return func(int) (Op, error) { return op, nil }, nil
}

// TokenBaselineOp returns the op factory that loads the signing baseline
// at url as the http-json protocol loads CreateToken.
func TokenBaselineOp(url string) func(int) (Op, error) {
	body, _ := json.Marshal(map[string]string{"userSecret": baselineSecret})
	op := postJSON(client.HTTPClient(false), url+"/token", "", body)
	return func(int) (Op, error) { return op, nil }
}

// WSBaselineURL is the URL RunFanout takes for the WebSocket baseline at
// url.
func WSBaselineURL(url string) string { return url + "/baseline" }

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
