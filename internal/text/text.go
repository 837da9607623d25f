// Package text holds the one rule every field of user-written text
// follows (screen names, room names and topics, bios, messages): valid
// UTF-8, a bounded number of characters, not only white space where the
// field is required, and no control characters, or none but newline and
// tab where the field holds lines.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"foxhole.dev/foxhole/internal/errs"
)

// Rule is what one field accepts.
type Rule struct {
	Field    string // as the client names it, in errors
	Required bool   // not empty, nor only white space
	Max      int    // characters
	Lines    bool   // newline and tab allowed
}

// Check checks s as it is against the rule; a failure is an *errs.Invalid.
func (r Rule) Check(s string) error {
	switch {
	case !utf8.ValidString(s):
		return errs.Invalidf(r.Field, "must be valid UTF-8")
	case r.Required && strings.TrimSpace(s) == "":
		return errs.Invalidf(r.Field, "must not be empty")
	case utf8.RuneCountInString(s) > r.Max:
		return errs.Invalidf(r.Field, "must be at most %d characters", r.Max)
	case r.Lines && strings.IndexFunc(s, controlButLines) >= 0:
		return errs.Invalidf(r.Field, "must not contain control characters other than newline and tab")
	case !r.Lines && strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errs.Invalidf(r.Field, "must not contain control characters")
	}
	return nil
}

// Clean trims the white space around s, then checks it.
func (r Rule) Clean(s string) (string, error) {
	s = strings.TrimSpace(s)
	return s, r.Check(s)
}

func controlButLines(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }
