package stream

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/realtime"
)

// chatEvent is a chat message as a subscriber receives it.
func chatEvent() *foxholev1.SubscribeResponse {
	return &foxholev1.SubscribeResponse{Kind: &foxholev1.SubscribeResponse_Event{Event: &foxholev1.Event{
		Id:        12345,
		CreatedAt: timestamppb.Now(),
		Payload: &foxholev1.Event_ChatMessage{ChatMessage: &foxholev1.ChatMessage{
			Sender:  &foxholev1.UserRef{Id: "0123456789abcdefghjkmnpqrs", ScreenName: "Ada"},
			Content: "hello, everyone: a message of an ordinary length",
		}},
	}}}
}

// TestCodecsWriteWhatConnectWould checks that a delivery goes on the wire
// as the bytes connect-go's own codecs make of its SubscribeResponse, after
// whatever the buffer held, and that other messages still encode and
// decode.
func TestCodecsWriteWhatConnectWould(t *testing.T) {
	msg := chatEvent()
	d := realtime.NewDelivery(msg)
	prefix := []byte("prefix")
	wantBin, _ := proto.Marshal(msg)
	wantJSON, _ := protojson.Marshal(msg)
	for _, tc := range []struct {
		name  string
		codec interface {
			MarshalAppend([]byte, any) ([]byte, error)
			Unmarshal([]byte, any) error
		}
		want []byte
	}{
		{"proto", protoCodec{}, wantBin},
		{"json", jsonCodec{name: "json"}, wantJSON},
	} {
		for range 2 { // the second time from the kept encoding
			got, err := tc.codec.MarshalAppend(bytes.Clone(prefix), d)
			if err != nil || !bytes.Equal(got, append(bytes.Clone(prefix), tc.want...)) {
				t.Errorf("%s: MarshalAppend of a delivery = %q, %v; want the prefix and %q", tc.name, got, err, tc.want)
			}
		}
		after := int64(7)
		req := &foxholev1.SubscribeRequest{AfterEventId: &after, SkipPresence: true}
		b, err := tc.codec.MarshalAppend(nil, req)
		if err != nil {
			t.Fatalf("%s: MarshalAppend of a request: %v", tc.name, err)
		}
		var back foxholev1.SubscribeRequest
		if err := tc.codec.Unmarshal(b, &back); err != nil || !proto.Equal(&back, req) {
			t.Errorf("%s: round trip of %v gave %v, %v", tc.name, req, &back, err)
		}
		if _, err := tc.codec.MarshalAppend(nil, "not a message"); err == nil {
			t.Errorf("%s: MarshalAppend of a string succeeded", tc.name)
		}
	}
	var req foxholev1.SubscribeRequest
	if err := (jsonCodec{}).Unmarshal(nil, &req); err == nil {
		t.Error("JSON codec took an empty payload")
	}
	if err := (jsonCodec{}).Unmarshal([]byte(`{"skipPresence": true, "fromTheFuture": 1}`), &req); err != nil || !req.GetSkipPresence() {
		t.Errorf("JSON codec refused an unknown field: %v", err)
	}
}
