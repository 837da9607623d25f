package local_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/blob/blobtest"
	"foxhole.dev/foxhole/internal/blob/local"
)

func newStore(t *testing.T) *local.Store {
	s, err := local.New(t.TempDir(), []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t) })
}

func TestSignedURLs(t *testing.T) {
	s := newStore(t)
	u, err := s.URL(context.Background(), "abcd00000001", time.Minute, blob.URLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key, query, _ := strings.Cut(strings.TrimPrefix(u, local.DownloadPath), "?")
	var exp, sig string
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "expires":
			exp = v
		case "signature":
			sig = v
		}
	}
	if !s.Verify(key, exp, sig) {
		t.Fatalf("own URL %s does not verify", u)
	}
	for name, c := range map[string][3]string{
		"other key":       {"abcd00000002", exp, sig},
		"later expiry":    {key, exp + "0", sig},
		"bad signature":   {key, exp, strings.Repeat("0", len(sig))},
		"expired":         {key, "1", sig},
		"garbage expiry":  {key, "soon", sig},
		"empty signature": {key, exp, ""},
		"other store's":   {key, exp, signOther(t, key)},
	} {
		if s.Verify(c[0], c[1], c[2]) {
			t.Errorf("%s: verified", name)
		}
	}
}

func signOther(t *testing.T, key string) string {
	other, _ := local.New(t.TempDir(), []byte(strings.Repeat("x", 32)))
	u, _ := other.URL(context.Background(), key, time.Minute, blob.URLOptions{})
	_, sig, _ := strings.Cut(u, "signature=")
	return sig
}

func TestRemoveStaleTemp(t *testing.T) {
	dir := t.TempDir()
	s, _ := local.New(dir, []byte(strings.Repeat("k", 32)))
	ctx := context.Background()

	// A temp file nobody holds, as a killed process leaves it, however young.
	dead := filepath.Join(dir, "tmp", "abcd00000001-123")
	os.WriteFile(dead, []byte("partial"), 0o600)

	// An upload in progress: once the pipe write returns, Put has read the
	// bytes, so its temp file exists and is locked.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "abcd00000002", pr, -1)
		done <- err
	}()
	pw.Write([]byte("uploading"))
	temps, _ := filepath.Glob(filepath.Join(dir, "tmp", "abcd00000002-*"))
	if len(temps) != 1 {
		t.Fatalf("live upload has %d temp files", len(temps))
	}
	// A long upload: its temp file is old by the time it completes.
	past := time.Now().Add(-48 * time.Hour)
	os.Chtimes(temps[0], past, past)

	if n, err := s.RemoveStaleTemp(); err != nil || n != 1 {
		t.Fatalf("RemoveStaleTemp = %d, %v; want the dead upload's file only", n, err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("dead upload's temp file kept")
	}
	if _, err := os.Stat(temps[0]); err != nil {
		t.Errorf("live upload's temp file removed: %v", err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("Put after RemoveStaleTemp: %v", err)
	}
	info, err := s.Stat(ctx, "abcd00000002")
	if err != nil || time.Since(info.ModTime) > time.Hour {
		t.Errorf("object of a long upload: %+v, %v; want it to look just arrived", info, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "tmp", "*")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestShardDirectoriesAppear(t *testing.T) {
	dir := t.TempDir()
	s, _ := local.New(dir, []byte(strings.Repeat("k", 32)))
	// Several uploads racing to create the same new shard all succeed.
	errc := make(chan error, 8)
	for i := range 8 {
		go func() {
			_, err := s.Put(context.Background(), fmt.Sprintf("qq%010d", i), strings.NewReader("x"), 1)
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if objs, _ := filepath.Glob(filepath.Join(dir, "qq", "*")); len(objs) != 8 {
		t.Fatalf("shard holds %d objects, want 8", len(objs))
	}
}

func TestPartials(t *testing.T) { blobtest.RunPartials(t, newStore(t)) }
