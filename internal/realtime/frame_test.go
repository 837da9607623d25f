package realtime

import (
	"errors"
	"testing"
	"unicode/utf8"

	"foxhole.dev/foxhole/internal/errs"
)

func TestDecodeFrame(t *testing.T) {
	for _, tc := range []struct {
		frame, content, recipient string
	}{
		{`{"content": "hi"}`, "hi", ""},
		{`{"content": "hi", "recipientId": "u1"}`, "hi", "u1"},
		{`{"content": "hi", "recipient_id": "u1"}`, "hi", "u1"},
		{`{"content": "hi", "recipientId": "u1", "recipient_id": "u1"}`, "hi", "u1"},
		{`{"type": "message", "content": "", "extra": [1, 2]}`, "", ""},
	} {
		c, r, err := decodeFrame([]byte(tc.frame))
		if err != nil || c != tc.content || r != tc.recipient {
			t.Errorf("decodeFrame(%s) = %q, %q, %v", tc.frame, c, r, err)
		}
	}
}

// FuzzDecodeFrame checks that no frame crashes the decoder and that every
// rejection is a clear invalid-argument error.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range []string{
		`{"content": "hi"}`, `{"content": "hi", "recipientId": "u"}`, `{"content": "a", "recipient_id": "b", "type": 1}`,
		`{}`, `null`, `[]`, `"x"`, `{"content": 5}`, `{"content": "a"} {}`, "\xff", ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		content, recipient, err := decodeFrame(data)
		if err != nil {
			if _, ok := errors.AsType[*errs.Invalid](err); !ok {
				t.Fatalf("decodeFrame(%q) failed with %T %v, want *errs.Invalid", data, err, err)
			}
			return
		}
		if len(recipient) > 64 {
			t.Fatalf("decodeFrame(%q) accepted a %d-byte recipient", data, len(recipient))
		}
		if utf8.Valid(data) && !utf8.ValidString(content) {
			t.Fatalf("decodeFrame(%q) produced invalid UTF-8 from valid input", data)
		}
	})
}
