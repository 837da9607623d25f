package account_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

func TestExport(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	w := populate(t, srv)
	ctx := context.Background()
	var buf bytes.Buffer
	if _, err := w.vc.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]string{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		entries[f.Name] = string(b)
	}
	if p := entries["profile.json"]; !strings.Contains(p, victimBio) || !strings.Contains(p, victimAttr) || !strings.Contains(p, w.victim.ID) {
		t.Errorf("profile.json = %s", p)
	}
	files := 0
	for name, content := range entries {
		if strings.HasPrefix(name, "files/") {
			files++
			if !strings.Contains(content, victimFile) {
				t.Errorf("%s holds %q", name, content)
			}
		}
	}
	if files != 2 {
		t.Errorf("%d files in the export, want 2: %v", files, keys(entries))
	}
	var texts []string
	sc := bufio.NewScanner(strings.NewReader(entries["messages.jsonl"]))
	for sc.Scan() {
		var m struct{ Content string }
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("messages.jsonl: %v", err)
		}
		texts = append(texts, m.Content)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{victimDM, toVictimDM, victimLobby, victimRoom, victimEdit} {
		if !strings.Contains(all, want) {
			t.Errorf("messages.jsonl lacks %q: %s", want, all)
		}
	}
	if strings.Contains(all, friendText) {
		t.Errorf("messages.jsonl holds another's lobby message")
	}
	var rooms []struct{ RoomID, Name, Role string }
	if err := json.Unmarshal([]byte(entries["rooms.json"]), &rooms); err != nil || len(rooms) != 3 {
		t.Errorf("rooms.json = %s (%v)", entries["rooms.json"], err)
	}

	// A user with nothing gets the same files, rooms.json an empty list.
	empty := srv.Clients(client.Connect, srv.Register(t, client.Connect, "empty").Token)
	buf.Reset()
	if _, err := empty.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	z, _ = zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	for _, f := range z.File {
		if f.Name == "rooms.json" {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			if strings.TrimSpace(string(b)) != "[]" {
				t.Errorf("rooms.json of a user in no room = %s", b)
			}
		}
	}
	if _, err := srv.Clients(client.Connect, "").Export(ctx, io.Discard); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("export without a token: %v", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestExportMemoryIsFlat exports a user holding a large file and samples
// the server's heap meanwhile (client and server share this process: the
// client only discards): the zip is streamed, never held.
func TestExportMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads and exports 512 MiB")
	}
	const size = 512 << 20
	srv := testutil.Start(t, func(c *config.Config) {
		c.FileMaxBytes, c.FileQuotaBytes = size, 2*size
	})
	u := srv.Register(t, client.Connect, "hoarder")
	c := srv.Clients(client.Connect, u.Token)
	ctx := context.Background()
	if _, err := c.Upload(ctx, "big.bin", "application/octet-stream", io.LimitReader(testutil.Content(size), size)); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	n, err := c.Export(ctx, io.Discard)
	close(done)
	if err != nil || n < size {
		t.Fatalf("export: %d bytes, %v", n, err)
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("exported %d MiB; heap in use before %d MiB, peak during %d MiB (grew %d MiB)", n>>20, base>>20, peak.Load()>>20, grew>>20)
	if grew > 64<<20 {
		t.Errorf("the heap grew by %d MiB during a %d MiB export", grew>>20, n>>20)
	}
}
