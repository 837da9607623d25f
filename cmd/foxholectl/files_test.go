package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestFiles uploads a file, downloads it, lists and deletes it on every
// protocol: 64 MiB on Connect, gRPC and gRPC-Web, 8 MiB on Connect JSON,
// whose base64 chunks make 64 MiB several times slower under the race
// detector for no more coverage.
func TestFiles(t *testing.T) {
	srv := startServer(t)
	sizes := map[client.Protocol]int64{client.Connect: 64 << 20, client.GRPC: 64 << 20, client.ConnectJSON: 8 << 20, client.GRPCWeb: 64 << 20}
	for _, p := range client.Protocols {
		t.Run(string(p), func(t *testing.T) {
			newHome(t)
			g := func(args ...string) []string { return global(srv.URL, p, args...) }
			registerCLI(t, srv.URL, p, "files-"+string(p))
			dir := t.TempDir()
			src := filepath.Join(dir, "payload.bin")
			sum := writeContent(t, src, sizes[p])

			out := mustCtl(t, "", g("--json", "files", "put", src)...)
			stored := &foxholev1.File{}
			if err := protojson.Unmarshal([]byte(out), stored); err != nil {
				t.Fatalf("files put --json printed %q: %v", out, err)
			}
			if stored.GetName() != "payload.bin" || stored.GetSize() != sizes[p] || stored.GetSha256() != sum {
				t.Fatalf("stored %v: want payload.bin, %d bytes, SHA-256 %s", stored, sizes[p], sum)
			}
			dst := filepath.Join(dir, "copy.bin")
			mustCtl(t, "", g("files", "get", stored.GetId(), "-o", dst)...)
			if got := fileSum(t, dst); got != sum {
				t.Errorf("downloaded SHA-256 %s, want %s", got, sum)
			}

			// By default a file lands under its own name in the current
			// directory, and only --force replaces what is there.
			small := filepath.Join(dir, "small.txt")
			if err := os.WriteFile(small, []byte("small"), 0o600); err != nil {
				t.Fatal(err)
			}
			out = mustCtl(t, "", g("--json", "files", "put", small)...)
			smallFile := &foxholev1.File{}
			if err := protojson.Unmarshal([]byte(out), smallFile); err != nil {
				t.Fatalf("files put --json printed %q: %v", out, err)
			}
			t.Chdir(t.TempDir())
			mustCtl(t, "", g("files", "get", smallFile.GetId())...)
			if b, err := os.ReadFile("small.txt"); err != nil || string(b) != "small" {
				t.Errorf("small.txt holds %q, %v", b, err)
			}
			if _, errOut, code := ctl(t, "", g("files", "get", smallFile.GetId())...); code != exitUsage || !strings.Contains(errOut, "--force") {
				t.Errorf("files get over an existing file: exit %d, %q: want 1 and a hint to use --force", code, errOut)
			}
			mustCtl(t, "", g("files", "get", "--force", smallFile.GetId())...)
			if entries, _ := os.ReadDir("."); len(entries) != 1 {
				t.Errorf("the directory holds %d entries, want small.txt alone (no partial file left)", len(entries))
			}

			out = mustCtl(t, "", g("files", "ls")...)
			for _, want := range []string{stored.GetId(), "payload.bin", smallFile.GetId(), "small.txt"} {
				if !strings.Contains(out, want) {
					t.Errorf("files ls printed %q: want %s in it", out, want)
				}
			}
			mustCtl(t, "", g("files", "rm", stored.GetId(), smallFile.GetId())...)
			if out := mustCtl(t, "", g("--json", "files", "ls")...); out != "" {
				t.Errorf("files ls after rm printed %q", out)
			}
			if _, errOut, code := ctl(t, "", g("files", "get", stored.GetId())...); code != exitRefused || !strings.HasPrefix(errOut, "foxholectl: not_found: ") {
				t.Errorf("files get of a deleted file: exit %d, %q: want 2, not_found", code, errOut)
			}
		})
	}
}

// TestFilesLsPages lists more files than fit in one page.
func TestFilesLsPages(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	res := registerCLI(t, srv.URL, client.Connect, "many")
	c := client.New(srv.URL, client.WithSecret(res.GetUserSecret()))
	defer func(size int32) { listPageSize = size }(listPageSize)
	listPageSize = 2
	const n = 5
	for i := range n {
		if _, err := c.Upload(t.Context(), "f", "", strings.NewReader("x")); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
	}
	out := mustCtl(t, "", "--server", srv.URL, "--json", "files", "ls")
	ids := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := &foxholev1.File{}
		if err := protojson.Unmarshal([]byte(line), f); err != nil {
			t.Fatalf("files ls --json printed %q: %v", line, err)
		}
		ids[f.GetId()] = true
	}
	if len(ids) != n {
		t.Errorf("files ls printed %d distinct files, want %d:\n%s", len(ids), n, out)
	}
}

// TestFilesGetStaysInDirectory downloads files whose names look like paths:
// a name is metadata, and the default destination is always its last
// element, in the current directory.
func TestFilesGetStaysInDirectory(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	res := registerCLI(t, srv.URL, client.Connect, "paths")
	c := client.New(srv.URL, client.WithSecret(res.GetUserSecret()))
	root := t.TempDir()
	work := filepath.Join(root, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	for _, tc := range []struct{ name, want string }{
		{"../escape.txt", "escape.txt"},
		{"/etc/passwd-copy", "passwd-copy"},
		{"a/b/inner.txt", "inner.txt"},
		{"..", ""},
		{"/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := c.Upload(t.Context(), tc.name, "", strings.NewReader("content of "+tc.name))
			if err != nil {
				t.Fatal(err)
			}
			_, errOut, code := ctl(t, "", "--server", srv.URL, "files", "get", f.GetId())
			if tc.want == "" {
				if code != exitUsage || !strings.Contains(errOut, "-o PATH") {
					t.Errorf("exit %d, %q: want 1 and a hint to use -o PATH", code, errOut)
				}
				return
			}
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if b, err := os.ReadFile(filepath.Join(work, tc.want)); err != nil || string(b) != "content of "+tc.name {
				t.Errorf("%s holds %q, %v", tc.want, b, err)
			}
		})
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("the parent of the working directory holds %d entries, want 1", len(entries))
	}
}

// writeContent writes size bytes to path and returns their SHA-256.
func writeContent(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), testutil.Content(size)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
