package stream

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"foxhole.dev/foxhole/internal/realtime"
)

// The codecs of SubscribeHandler write a *realtime.Delivery as the
// SubscribeResponse it carries, from the encoding the delivery keeps: one
// event is encoded once per process, however many streams send it. Any other message (the
// request, an error's details) is encoded as connect-go's own codecs do.
//
// They implement MarshalAppend, so that connect-go copies the shared bytes
// into a buffer of its own: the bytes a Marshal returns go back to its
// buffer pool, and must never be shared.

// protoCodec is binary protobuf: gRPC, gRPC-Web and Connect with "proto".
type protoCodec struct{}

func (protoCodec) Name() string { return "proto" }

func (c protoCodec) Marshal(v any) ([]byte, error) { return c.MarshalAppend(nil, v) }

func (protoCodec) MarshalAppend(b []byte, v any) ([]byte, error) {
	switch m := v.(type) {
	case *realtime.Delivery:
		return append(b, m.Binary()...), nil
	case proto.Message:
		return proto.MarshalOptions{}.MarshalAppend(b, m)
	}
	return nil, notProto(v)
}

func (protoCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return notProto(v)
	}
	return proto.Unmarshal(b, m)
}

// jsonCodec is protojson: Connect with "json", as curl and browsers send it.
type jsonCodec struct{ name string }

func (c jsonCodec) Name() string { return c.name }

func (c jsonCodec) Marshal(v any) ([]byte, error) { return c.MarshalAppend(nil, v) }

func (jsonCodec) MarshalAppend(b []byte, v any) ([]byte, error) {
	switch m := v.(type) {
	case *realtime.Delivery:
		return append(b, m.JSON()...), nil
	case proto.Message:
		return protojson.MarshalOptions{}.MarshalAppend(b, m)
	}
	return nil, notProto(v)
}

func (jsonCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return notProto(v)
	}
	if len(b) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	// Unknown fields are ignored, as connect-go's codec does, so that
	// clients built from a newer schema still subscribe.
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", v, err)
	}
	return nil
}

func notProto(v any) error { return fmt.Errorf("%T is not a protobuf message", v) }
