package files_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestStalledClientsMemory measures the server process's peak RSS while 20
// clients each hold a stalled PUT and a stalled DownloadFile, before the
// timeouts cut them. It reports the figure; the bound checked is only a
// sanity one.
func TestStalledClientsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a separate process")
	}
	proc := testutil.StartProcess(t, "FOXHOLE_AUTH_RATE=0",
		"FOXHOLE_UPLOAD_IDLE_TIMEOUT=60s", "FOXHOLE_DOWNLOAD_WRITE_TIMEOUT=60s")
	p := client.GRPC
	ctx := context.Background()
	const clients = 20
	content := randomBytes(4 << 20)
	type caller struct {
		c  *client.Client
		u  testutil.User
		id string
	}
	cs := make([]caller, clients)
	for i := range cs {
		u := proc.Register(t, p, fmt.Sprint("stalled", i))
		c := proc.Clients(p, u.Token)
		var chunks [][]byte
		for off := 0; off < len(content); off += 64 << 10 {
			chunks = append(chunks, content[off:off+64<<10])
		}
		cs[i] = caller{c: c, u: u, id: upload(t, c, "big", chunks...).GetId()}
	}
	before := proc.PeakRSS()

	var puts []*io.PipeWriter
	for i, cl := range cs {
		w, _ := stalledPutAt(t, proc.URL, cl.u.Token, fmt.Sprint("stalled-put", i))
		puts = append(puts, w)
		dl := foxholev1connectFileClient(slowReader(), proc.URL, cl.u.Token, p)
		stream, err := dl.DownloadFile(ctx, connect.NewRequest(&foxholev1.DownloadFileRequest{Id: cl.id}))
		if err != nil {
			t.Fatal(err)
		}
		// One message read: the server is sending, then blocks on the
		// client's small flow-control window.
		if !stream.Receive() {
			t.Fatal(stream.Err())
		}
		defer stream.Close()
	}
	peak := proc.PeakRSS()
	t.Logf("server peak RSS (VmHWM): %.1f MiB before, %.1f MiB with %d stalled PUTs and %d stalled downloads (current RSS %.1f MiB)",
		float64(before)/(1<<20), float64(peak)/(1<<20), clients, clients, float64(proc.RSS())/(1<<20))
	if peak > 1<<30 {
		t.Errorf("peak RSS %d bytes: stalled clients should hold little memory", peak)
	}
	for _, w := range puts {
		w.Close()
	}
}
