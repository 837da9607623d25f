package local

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/blob"
)

// FuzzVerify feeds the signed-URL check arbitrary queries: only the exact
// signature of the key and expiry the store made passes, and a mangled
// query never does.
func FuzzVerify(f *testing.F) {
	s := &Store{signKey: []byte("fuzz key"), now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	u, err := s.URL(context.Background(), "0123456789abcdef", time.Hour, blob.URLOptions{})
	if err != nil {
		f.Fatal(err)
	}
	_, query, _ := strings.Cut(u, "?")
	f.Add("0123456789abcdef", query)
	f.Add("0123456789abcdef", "expires=99999999999&signature=00")
	f.Add("../etc/passwd", "expires=-1&signature=")
	f.Add("0123456789abcdef", "expires=1800003600&expires=1&signature=%zz")
	f.Fuzz(func(t *testing.T, key, rawQuery string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return // net/http would have dropped the bad pairs too
		}
		if !s.Verify(key, q.Get("expires"), q.Get("signature")) {
			return
		}
		if key != "0123456789abcdef" || q.Get("expires") != "1800003600" || q.Get("signature") != s.sign(key, "1800003600") {
			t.Fatalf("accepted key %q with query %q", key, rawQuery)
		}
	})
}
