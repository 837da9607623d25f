package ws

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
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
		c, r, _, err := decodeFrame([]byte(tc.frame))
		if err != nil || c != tc.content || r != tc.recipient {
			t.Errorf("decodeFrame(%s) = %q, %q, %v", tc.frame, c, r, err)
		}
	}
}

// FuzzDecodeFrame checks that no frame crashes the decoder, that every
// rejection is a clear invalid-argument error, and that what it accepts is
// what the frame says: the same request, as a client's SendMessageRequest
// JSON, decodes to the same content and recipient.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range []string{
		`{"content": "hi"}`, `{"content": "hi", "recipientId": "u"}`, `{"content": "a", "recipient_id": "b", "type": 1}`,
		`{}`, `null`, `[]`, `"x"`, `{"content": 5}`, `{"content": "a"} {}`, "\xff", ``,
		`{"content": "\ud800 \u00e9\n\t", "recipientId": "a", "recipient_id": "a"}`, `{"content": "x", "recipientId": null}`,
		`{"content": "a", "Content": "b", "CONTENT": "c"}`, `{"content": "a", "recipientId": "` + strings.Repeat("r", 65) + `"}`,
		"{\"content\": \"\xff\xfe\"}", `{"content": "a"}  ` + "\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		content, recipient, room, err := decodeFrame(data)
		if err != nil {
			if _, ok := errors.AsType[*errs.Invalid](err); !ok {
				t.Fatalf("decodeFrame(%q) failed with %T %v, want *errs.Invalid", data, err, err)
			}
			return
		}
		if len(room) > 64 {
			t.Fatalf("decodeFrame(%q) accepted a %d-byte room id", data, len(room))
		}
		if len(recipient) > 64 {
			t.Fatalf("decodeFrame(%q) accepted a %d-byte recipient", data, len(recipient))
		}
		if !utf8.ValidString(content) || !utf8.ValidString(recipient) {
			t.Fatalf("decodeFrame(%q) produced invalid UTF-8: %q, %q", data, content, recipient)
		}
		// Empty fields too: the frame's content is required even when empty.
		again, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(&foxholev1.SendMessageRequest{Content: content, RecipientId: recipient})
		if err != nil {
			t.Fatalf("decodeFrame(%q) = %q, %q, which does not encode: %v", data, content, recipient, err)
		}
		c2, r2, _, err := decodeFrame(again)
		if err != nil || c2 != content || r2 != recipient {
			t.Fatalf("decodeFrame(%q) = %q, %q; re-encoded as %s it decodes to %q, %q, %v", data, content, recipient, again, c2, r2, err)
		}
	})
}
