package store

import (
	"crypto/rand"
	"encoding/base32"
)

// idEncoding is lowercase Crockford base32: no padding, no confusable letters.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a random 128-bit record id: 26 characters of lowercase
// Crockford base32, safe in URLs, file names and object keys.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return idEncoding.EncodeToString(b)
}
