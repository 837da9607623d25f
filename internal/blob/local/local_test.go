package local_test

import (
	"context"
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
	old := filepath.Join(dir, "tmp", "abcd00000001-123")
	os.WriteFile(old, []byte("partial"), 0o600)
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	fresh := filepath.Join(dir, "tmp", "abcd00000002-456")
	os.WriteFile(fresh, []byte("uploading"), 0o600)
	if n, err := s.RemoveStaleTemp(time.Hour); err != nil || n != 1 {
		t.Fatalf("RemoveStaleTemp = %d, %v", n, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Error("stale temp file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("fresh temp file removed")
	}
}
