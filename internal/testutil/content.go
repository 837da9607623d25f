package testutil

import (
	"crypto/rand"
	"io"
)

// Content yields n bytes: one random MiB, repeated, so that producing the
// bytes costs nothing next to moving them.
func Content(n int64) io.Reader {
	block := make([]byte, 1<<20)
	rand.Read(block)
	return io.LimitReader(&repeat{block: block}, n)
}

type repeat struct {
	block []byte
	off   int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	return n, nil
}
