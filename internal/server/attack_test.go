package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestAttacksKeepMemoryBounded runs each attack against a server in its own
// process, with the default settings, and reads that process's peak
// resident memory from /proc: every attack is refused with a client error,
// and none costs the server more than a small, fixed amount of memory.
func TestAttacksKeepMemoryBounded(t *testing.T) {
	// Behind a trusted proxy, so that the attacks below can come from many
	// addresses; the calls without X-Forwarded-For come from the peer. The
	// global registration rate is raised for the crowd the presence attack
	// needs: the /48 attack meets the limits per prefix.
	p := testutil.StartProcess(t, "FOXHOLE_TRUSTED_PROXIES=127.0.0.0/8,::1/128",
		"FOXHOLE_REGISTER_RATE_GLOBAL=1000", "FOXHOLE_REGISTER_BURST_GLOBAL=100000")
	pid := strconv.Itoa(p.PID)
	hc := client.HTTPClient(true)
	auth := foxholev1connect.NewAuthServiceClient(hc, p.URL)
	reg, err := auth.Register(context.Background(), connect.NewRequest(&foxholev1.RegisterRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.CreateToken(context.Background(), connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: reg.Msg.GetUserSecret()}))
	if err != nil {
		t.Fatal(err)
	}
	token := tok.Msg.GetAccessToken()
	// Accounts for the slow attacks below, made before the Register flood
	// spends the address's allowance.
	var attackers []string
	for range slowAccounts {
		reg, err := auth.Register(context.Background(), connect.NewRequest(&foxholev1.RegisterRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := auth.CreateToken(context.Background(), connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: reg.Msg.GetUserSecret()}))
		if err != nil {
			t.Fatal(err)
		}
		attackers = append(attackers, tok.Msg.GetAccessToken())
	}

	bomb := gzipBomb(t, 600<<20) // the 600 KB body that once inflated to 600 MiB
	big := bytes.Repeat([]byte("x"), 10<<20)
	post := func(path string, body []byte, header ...string) func() int {
		return func() int {
			status, h, _ := sendWith(t, hc, p.URL+path, body, header...)
			if gs := h.Get("Grpc-Status"); gs != "" {
				status, _ = strconv.Atoi(gs)
			}
			return status
		}
	}
	const js, gz = "application/json", "gzip"
	attacks := []struct {
		name  string
		call  func() int // returns the HTTP status, or the gRPC status
		times int        // calls, 8 at a time
		want  []int      // acceptable answers: client errors only
	}{
		{"gzip bomb to health over Connect", post("/grpc.health.v1.Health/Check", bomb, "Content-Type", js, "Content-Encoding", gz), 32, []int{400}},
		{"gzip bomb to health over gRPC", post("/grpc.health.v1.Health/Check", grpcFrame(1, bomb), "Content-Type", "application/grpc", "Grpc-Encoding", gz), 32, []int{int(connect.CodeInvalidArgument)}},
		{"gzip bomb to UploadFile", post("/foxhole.v1.FileService/UploadFile", bomb, "Content-Type", "application/proto", "Content-Encoding", gz, "Authorization", "Bearer "+token), 32, []int{429}},
		{"10 MB to health", post("/grpc.health.v1.Health/Check", big, "Content-Type", js), 32, []int{429}},
		{"10 MB to reflection over gRPC", post("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", grpcFrame(0, big), "Content-Type", "application/grpc"), 32, []int{int(connect.CodeResourceExhausted)}},
		{"10 MB to Register", post("/foxhole.v1.AuthService/Register", big, "Content-Type", js), 32, []int{429}},
		{"Register flood", post("/foxhole.v1.AuthService/Register", []byte(`{}`), "Content-Type", js), 2000, []int{200, 429}},
		{"unknown procedure flood", post("/foxhole.v1.AuthService/Nope", []byte(`{}`), "Content-Type", js), 2000, []int{404}},
		{"Register flood from one IPv6 /48", registerFrom48(t, hc, p.URL), 2000, []int{200, 429}},
		{"ListPresence loop with a crowd online", listPresence(t, hc, p.URL, token), 2000, []int{200, 429}},
	}
	crowdOnline(t, hc, p.URL, token, 1000)
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			// Peak memory is measured from here: /proc/<pid>/clear_refs "5"
			// resets it (Linux); where that fails, the peak so far is kept.
			_ = os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0)
			before := testutil.ProcessMemory(pid, "VmRSS")
			var (
				mu      sync.Mutex
				answers = map[int]int{}
				wg      sync.WaitGroup
				next    = make(chan struct{})
			)
			for range 8 {
				wg.Go(func() {
					for range next {
						s := a.call()
						mu.Lock()
						answers[s]++
						mu.Unlock()
					}
				})
			}
			for range a.times {
				next <- struct{}{}
			}
			close(next)
			wg.Wait()
			peak := testutil.ProcessMemory(pid, "VmHWM")
			t.Logf("RSS %d MiB before, peak %d MiB during %d calls; answers %v", before>>20, peak>>20, a.times, answers)
			for s := range answers {
				if !slices.Contains(a.want, s) {
					t.Errorf("answer %d, want one of %v", s, a.want)
				}
			}
			// The server starts at about 30 MiB; a bounded attack adds a few
			// buffers per connection, an unbounded one gigabytes.
			if peak > before+128<<20 {
				t.Errorf("peak RSS %d MiB, %d MiB over the %d MiB before", peak>>20, (peak-before)>>20, before>>20)
			}
		})
	}
	t.Logf("accounts made by the /48 flood: %d", registered48.Load())
	slowAttacks(t, p, pid, token, attackers)
	res, err := http.Get(p.URL + "/healthz")
	if err != nil {
		t.Fatalf("server gone after the attacks: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

var registered48 atomic.Int64

// registerFrom48 registers from a new /64 of 2001:db8:48::/48 at each call,
// through the trusted proxy.
func registerFrom48(t *testing.T, hc *http.Client, url string) func() int {
	var n atomic.Uint32
	return func() int {
		i := n.Add(1)
		addr := fmt.Sprintf("2001:db8:48:%x::1", i)
		status, _, _ := sendWith(t, hc, url+"/foxhole.v1.AuthService/Register", []byte(`{}`),
			"Content-Type", "application/json", "X-Forwarded-For", addr)
		if status == http.StatusOK {
			registered48.Add(1)
		}
		return status
	}
}

// listPresence asks for who is online, as one user in a loop would.
func listPresence(t *testing.T, hc *http.Client, url, token string) func() int {
	return func() int {
		status, _, _ := sendWith(t, hc, url+"/foxhole.v1.RealtimeService/ListPresence", []byte(`{}`),
			"Content-Type", "application/json", "Authorization", "Bearer "+token)
		return status
	}
}

// crowdOnline registers n users, each from an address of its own behind the
// trusted proxy, and keeps a stream of each open until the test ends.
func crowdOnline(t *testing.T, hc *http.Client, url, token string, n int) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	auth := foxholev1connect.NewAuthServiceClient(hc, url)
	rt := foxholev1connect.NewRealtimeServiceClient(hc, url)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var opened atomic.Int64
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			addr := fmt.Sprintf("10.%d.%d.1", i/256, i%256)
			reg := connect.NewRequest(&foxholev1.RegisterRequest{})
			reg.Header().Set("X-Forwarded-For", addr)
			r, err := auth.Register(ctx, reg)
			if err != nil {
				t.Errorf("register: %v", err)
				return
			}
			tr := connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: r.Msg.GetUserSecret()})
			tr.Header().Set("X-Forwarded-For", addr)
			tok, err := auth.CreateToken(ctx, tr)
			if err != nil {
				t.Errorf("token: %v", err)
				return
			}
			sr := connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true})
			sr.Header().Set("X-Forwarded-For", addr)
			sr.Header().Set("Authorization", "Bearer "+tok.Msg.GetAccessToken())
			stream, err := rt.Subscribe(ctx, sr)
			if err != nil {
				t.Errorf("subscribe: %v", err)
				return
			}
			opened.Add(1)
			go func() {
				for stream.Receive() {
				}
				stream.Close()
			}()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Wait until ListPresence names the crowd (its first page: 1,000).
	for range 120 {
		status, _, body := sendWith(t, hc, url+"/foxhole.v1.RealtimeService/ListPresence", []byte(`{}`),
			"Content-Type", "application/json", "Authorization", "Bearer "+token)
		if status == http.StatusOK && strings.Count(body, `"screenName"`) >= n {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d users online", opened.Load())
}

// slowAccounts is how many accounts the slow attacks use, each with four
// uploads (FOXHOLE_MAX_UPLOADS_PER_USER): more than FOXHOLE_MAX_UPLOADS in all.
const slowAccounts = 20

// slowAttacks opens many transfers at once that move nothing (slow uploads
// of many accounts; downloads of one signed link that never read), holds
// them for a moment, and reports the process's peak memory meanwhile: the
// server holds no more of them than its caps allow and refuses the rest
// with 429, before any body is read.
func slowAttacks(t *testing.T, p *testutil.Process, pid, token string, attackers []string) {
	hc := client.HTTPClient(false)
	// A file for the signed link, larger than a connection's buffers.
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/files/shared", bytes.NewReader(bytes.Repeat([]byte("y"), 8<<20)))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ ID string }
	json.NewDecoder(res.Body).Decode(&f)
	res.Body.Close()
	files := foxholev1connect.NewFileServiceClient(hc, p.URL)
	get := connect.NewRequest(&foxholev1.GetFileRequest{Id: f.ID})
	get.Header().Set("Authorization", "Bearer "+token)
	got, err := files.GetFile(context.Background(), get)
	if err != nil {
		t.Fatal(err)
	}
	link, err := url.Parse(got.Msg.GetDownloadUrl())
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(p.URL, "http://")
	attacks := []struct {
		name    string
		n       int
		request func(i int) string // what each connection sends, and then nothing
	}{
		{"slow uploads from 20 accounts", 4 * len(attackers), func(i int) string {
			// Chunked, of unknown length: one byte, then silence.
			return "PUT /files/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + attackers[i%len(attackers)] +
				"\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n"
		}},
		{"slow downloads of one signed link", 4 * len(attackers), func(int) string {
			return "GET " + link.RequestURI() + " HTTP/1.1\r\nHost: x\r\n\r\n"
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			_ = os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0)
			before := testutil.ProcessMemory(pid, "VmRSS")
			var (
				mu      sync.Mutex
				answers = map[int]int{} // 0: held, the transfer under way
				conns   []net.Conn
				wg      sync.WaitGroup
			)
			for i := range a.n {
				wg.Go(func() {
					conn, err := net.Dial("tcp", host)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					conns = append(conns, conn)
					mu.Unlock()
					io.WriteString(conn, a.request(i))
					// A refusal comes at once; a held upload answers nothing, a
					// held download its headers and as much content as the
					// connection's buffers take.
					conn.SetReadDeadline(time.Now().Add(2 * time.Second))
					status := 0
					if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil && res.StatusCode != http.StatusOK {
						status = res.StatusCode
					}
					mu.Lock()
					answers[status]++
					mu.Unlock()
				})
			}
			wg.Wait()
			peak := testutil.ProcessMemory(pid, "VmHWM")
			for _, c := range conns {
				c.Close()
			}
			t.Logf("RSS %d MiB before, peak %d MiB during %d transfers held at once; answers %v (0: held)", before>>20, peak>>20, a.n, answers)
			for s := range answers {
				if s != 0 && s != http.StatusTooManyRequests {
					t.Errorf("answer %d, want the transfer held or 429", s)
				}
			}
			if peak > before+128<<20 {
				t.Errorf("peak RSS %d MiB, %d MiB over the %d MiB before", peak>>20, (peak-before)>>20, before>>20)
			}
		})
	}
}
