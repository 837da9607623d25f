package files

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// FuzzPageToken feeds ListFiles arbitrary page tokens: a token either is
// one ListFiles could have made (it encodes back to itself) or is refused
// as invalid input, never anything else.
func FuzzPageToken(f *testing.F) {
	f.Add(encodeCursor(store.FileCursor{CreatedAt: 1764201600000000, ID: "0123456789abcdef"}))
	f.Add("")
	f.Add("bm90LWEtY3Vyc29y")
	f.Add("MTIzLi4vLi4vZXRj")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := decodeCursor(tok)
		if err != nil {
			if _, ok := errors.AsType[*errs.Invalid](err); !ok {
				t.Fatalf("%q: error %v is not invalid input", tok, err)
			}
			return
		}
		if again, err := decodeCursor(encodeCursor(c)); err != nil || again != c {
			t.Fatalf("%q decodes to %+v, which does not round-trip: %+v %v", tok, c, again, err)
		}
	})
}

// FuzzFileName checks the file name rules against arbitrary names: an
// accepted name is 1 to 255 bytes of UTF-8 without control characters.
func FuzzFileName(f *testing.F) {
	for _, s := range []string{"photo.jpg", "../../etc/passwd", "a/b", "", "\x00", "é", strings.Repeat("x", 256), "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := checkName(name)
		if err != nil {
			if _, ok := errors.AsType[*errs.Invalid](err); !ok {
				t.Fatalf("%q: error %v is not invalid input", name, err)
			}
			return
		}
		if name == "" || len(name) > MaxNameBytes || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("%q accepted", name)
		}
	})
}
