package load

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/server"
)

// The baselines are the ceilings Foxhole is measured against: bare net/http
// handlers doing the least work a call of each kind needs, with no
// database, no RPC framework and no limits.
//
// The unary ones answer at Foxhole's own procedure paths, in the protocol
// the call speaks (Connect JSON, Connect binary or gRPC, told apart by
// Content-Type, with precomputed or hand-framed bodies; gRPC-Web too), so that the very
// same client, over the same transport and connections, loads Foxhole and
// its baseline: a ratio then compares the servers alone.
//
//   - GetProfile verifies an HS256 JWT the way Foxhole does and answers
//     the message GetProfile answers: the ceiling of an authenticated call.
//   - CreateToken decodes the secret, hashes it, finds its user in a map,
//     signs an HS256 JWT and answers the message CreateToken answers: the
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

// The answers of GetProfile, as Foxhole's would be for the baseline user.
var (
	baselineProfile = &foxholev1.GetProfileResponse{User: &foxholev1.User{
		Id: baselineUser, ScreenName: "baseline",
		CreatedAt: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		UpdatedAt: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
	}}
	profileJSON     = []byte(`{"user":{"id":"0123456789abcdefghjkmnpqrs","screenName":"baseline","createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}}`)
	profileBinary   = must(proto.Marshal(baselineProfile))
	profileGRPCBody = grpcFrame(profileBinary)
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// encoding is how a unary call's messages travel.
type encoding int

const (
	encJSON    encoding = iota // Connect, JSON
	encBinary                  // Connect, binary protobuf
	encGRPC                    // gRPC: length-prefixed protobuf, status in trailers
	encGRPCWeb                 // gRPC-Web: the same, status in a last frame
)

func encodingOf(r *http.Request) (encoding, bool) {
	switch ct := r.Header.Get("Content-Type"); {
	case ct == "application/json" || strings.HasPrefix(ct, "application/json;"):
		return encJSON, true
	case ct == "application/proto":
		return encBinary, true
	case ct == "application/grpc" || ct == "application/grpc+proto":
		return encGRPC, true
	case ct == "application/grpc-web" || ct == "application/grpc-web+proto":
		return encGRPCWeb, true
	}
	return 0, false
}

// grpcFrame prefixes msg as one uncompressed gRPC message.
func grpcFrame(msg []byte) []byte {
	out := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(out[1:5], uint32(len(msg)))
	copy(out[5:], msg)
	return out
}

// answer writes body, already encoded as enc wants, with the status of a
// successful call.
func answer(w http.ResponseWriter, enc encoding, body []byte) {
	h := w.Header()
	switch enc {
	case encJSON:
		h.Set("Content-Type", "application/json")
	case encBinary:
		h.Set("Content-Type", "application/proto")
	case encGRPC:
		h.Set("Content-Type", "application/grpc")
		h.Set("Trailer", "Grpc-Status")
	case encGRPCWeb:
		h.Set("Content-Type", "application/grpc-web+proto")
	}
	w.Write(body)
	switch enc {
	case encGRPC:
		h.Set("Grpc-Status", "0")
	case encGRPCWeb:
		w.Write(grpcWebOK)
	}
}

// grpcWebOK is gRPC-Web's frame of trailers for a call that succeeded.
var grpcWebOK = func() []byte {
	b := grpcFrame([]byte("grpc-status: 0\r\n"))
	b[0] = 0x80
	return b
}()

// refuse answers a failed call: the status code is enough for a load tool,
// which counts it as an error.
func refuse(w http.ResponseWriter, status int) {
	http.Error(w, http.StatusText(status), status)
}

// BaselineHandler serves the baselines.
func BaselineHandler() http.Handler {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("foxhole"), jwt.WithExpirationRequired())
	users := map[[sha256.Size]byte]string{sha256.Sum256([]byte(baselineSecret)): baselineUser}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /"+foxholev1connect.ProfileServiceName+"/GetProfile", func(w http.ResponseWriter, r *http.Request) {
		enc, ok := encodingOf(r)
		if !ok {
			refuse(w, http.StatusUnsupportedMediaType)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var claims jwt.RegisteredClaims
		if _, err := parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return baselineKey, nil }); !ok || err != nil {
			refuse(w, http.StatusUnauthorized)
			return
		}
		io.Copy(io.Discard, r.Body)
		answer(w, enc, [...][]byte{profileJSON, profileBinary, profileGRPCBody, profileGRPCBody}[enc])
	})
	mux.HandleFunc("POST /"+foxholev1connect.AuthServiceName+"/CreateToken", func(w http.ResponseWriter, r *http.Request) {
		enc, ok := encodingOf(r)
		if !ok {
			refuse(w, http.StatusUnsupportedMediaType)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<10))
		if err != nil {
			refuse(w, http.StatusBadRequest)
			return
		}
		var req foxholev1.CreateTokenRequest
		switch enc {
		case encJSON:
			var j struct{ UserSecret string }
			err = json.Unmarshal(body, &j)
			req.UserSecret = j.UserSecret
		case encBinary:
			err = proto.Unmarshal(body, &req)
		case encGRPC, encGRPCWeb:
			if len(body) < 5 {
				refuse(w, http.StatusBadRequest)
				return
			}
			err = proto.Unmarshal(body[5:], &req)
		}
		if err != nil {
			refuse(w, http.StatusBadRequest)
			return
		}
		user, ok := users[sha256.Sum256([]byte(req.UserSecret))]
		if !ok {
			refuse(w, http.StatusUnauthorized)
			return
		}
		token, expires, err := signBaselineToken(user, time.Now())
		if err != nil {
			refuse(w, http.StatusInternalServerError)
			return
		}
		var out []byte
		if enc == encJSON {
			out, _ = json.Marshal(map[string]string{"accessToken": token, "tokenType": "Bearer", "expiresAt": expires.Format(time.RFC3339)})
		} else {
			out, _ = proto.Marshal(&foxholev1.CreateTokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresAt: timestamppb.New(expires)})
			if enc == encGRPC || enc == encGRPCWeb {
				out = grpcFrame(out)
			}
		}
		answer(w, enc, out)
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
// the returned server is closed. It is Foxhole's own http.Server, settings
// and all, so that a connection to either is served alike.
func ServeBaseline(ln net.Listener) *http.Server {
	srv := server.NewHTTPServer("", BaselineHandler())
	go srv.Serve(ln)
	return srv
}

// Close stops the baseline server.
func (b *Baseline) Close() error { return b.server.Close() }

// WSBaselineURL is the URL RunFanout takes for the WebSocket baseline at
// url.
func WSBaselineURL(url string) string { return url + "/baseline" }
