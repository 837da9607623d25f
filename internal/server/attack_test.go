package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

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
	p := testutil.StartProcess(t)
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
	}
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
	res, err := http.Get(p.URL + "/healthz")
	if err != nil {
		t.Fatalf("server gone after the attacks: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}
