package profile

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/text"
)

// MaxBio is the longest bio, in characters.
const MaxBio = 500

// Bounds of attributes beyond their size as JSON.
const (
	MaxAttributeDepth = 4  // objects and lists nested in one another
	MaxAttributeKey   = 64 // characters of a key
)

// CleanBio trims s and checks it is a valid bio: 0 to 500 characters, no
// control characters but newline and tab.
func CleanBio(s string) (string, error) {
	return text.Rule{Field: "bio", Max: MaxBio, Lines: true}.Clean(s)
}

// AttributesJSON checks attributes and returns them as the JSON stored:
// keys sorted, no white space ("" for none or an empty object). Past
// maxBytes of JSON, MaxAttributeDepth levels, a key of 0 or more than
// MaxAttributeKey characters, or a control character in a key or string,
// it is errs.ErrInvalid.
func AttributesJSON(s *structpb.Struct, maxBytes int64) (string, error) {
	if s == nil || len(s.GetFields()) == 0 {
		return "", nil
	}
	if err := checkValue(structpb.NewStructValue(s), 0); err != nil {
		return "", err
	}
	b, err := json.Marshal(s.AsMap())
	if err != nil {
		return "", errs.Invalidf("attributes", "cannot be written as JSON: %v", err)
	}
	if int64(len(b)) > maxBytes {
		return "", errs.Invalidf("attributes", "must be at most %d bytes as JSON, not %d", maxBytes, len(b))
	}
	return string(b), nil
}

func checkValue(v *structpb.Value, depth int) error {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return checkText("a string", k.StringValue)
	case *structpb.Value_StructValue:
		if depth >= MaxAttributeDepth {
			return errs.Invalidf("attributes", "must nest at most %d deep", MaxAttributeDepth)
		}
		for key, f := range k.StructValue.GetFields() {
			if key == "" || utf8.RuneCountInString(key) > MaxAttributeKey {
				return errs.Invalidf("attributes", "keys must be 1 to %d characters", MaxAttributeKey)
			}
			if err := checkText("a key", key); err != nil {
				return err
			}
			if err := checkValue(f, depth+1); err != nil {
				return err
			}
		}
	case *structpb.Value_ListValue:
		if depth >= MaxAttributeDepth {
			return errs.Invalidf("attributes", "must nest at most %d deep", MaxAttributeDepth)
		}
		for _, e := range k.ListValue.GetValues() {
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkText(what, s string) error {
	if !utf8.ValidString(s) {
		return errs.Invalidf("attributes", "%s must be valid UTF-8", what)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return errs.Invalidf("attributes", "%s must not contain control characters", what)
	}
	return nil
}

// AttributesProto returns the stored JSON as a Struct (nil for none).
func AttributesProto(stored string) *structpb.Struct {
	if stored == "" {
		return nil
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader([]byte(stored)))
	if d.Decode(&m) != nil {
		return nil
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil
	}
	return s
}
