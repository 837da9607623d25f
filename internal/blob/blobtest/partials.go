package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"foxhole.dev/foxhole/internal/blob"
)

// brokenReader yields its bytes, then fails as a dropped connection does.
type brokenReader struct{ r io.Reader }

var errCut = errors.New("connection cut")

func (b brokenReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errCut
	}
	return n, err
}

// RunPartials checks a store's unfinished objects: writes that break off
// keep what arrived, a write at an earlier offset discards what lies past
// it, the finished object is exactly the bytes up to its size, and nothing
// unfinished is left after FinishPartial or DeletePartial.
func RunPartials(t *testing.T, s blob.Store) {
	p, ok := s.(blob.Partials)
	if !ok {
		t.Fatal("the store keeps no unfinished objects")
	}
	ctx := context.Background()
	content := make([]byte, 23<<20+11)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	const key = "partialkey0001"
	write := func(off, n int64, cut bool) int64 {
		t.Helper()
		var r io.Reader = bytes.NewReader(content[off : off+n])
		if cut {
			r = brokenReader{r}
		}
		got, err := p.WritePartial(ctx, key, off, r)
		if cut && !errors.Is(err, errCut) || !cut && err != nil {
			t.Fatalf("WritePartial(%d, %d): %v", off, n, err)
		}
		if got != n {
			t.Fatalf("WritePartial(%d, %d) kept %d", off, n, got)
		}
		return off + got
	}
	off := write(0, 1<<20, false)            // a short first piece
	off = write(off, 3<<20+5, true)          // joined with it, cut off
	off = write(off, 9<<20, false)           // past a whole piece
	write(off, 2<<20, false)                 // written, then not counted:
	off = write(off-(1<<20), 1<<20+1, false) // the next write starts before it
	off = write(off, 1000, true)             // a short one
	off = write(off, int64(len(content))-off, false)
	if off != int64(len(content)) {
		t.Fatalf("offset %d", off)
	}
	if _, err := p.WritePartial(ctx, key, off+1, bytes.NewReader(nil)); !errors.Is(err, blob.ErrSizeMismatch) {
		t.Fatalf("a write past the end: %v", err)
	}
	// Bytes past the size the upload records are not part of the object.
	if _, err := p.WritePartial(ctx, key, off-10, bytes.NewReader(make([]byte, 100))); err != nil {
		t.Fatal(err)
	}
	if err := p.FinishPartial(ctx, key, int64(len(content))-10); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, key, 0, -1); !bytes.Equal(got, content[:len(content)-10]) {
		t.Fatalf("finished object: %d bytes, equal %v", len(got), bytes.Equal(got, content[:len(content)-10]))
	}
	left := 0
	if err := p.WalkPartials(ctx, func(blob.Info) error { left++; return nil }); err != nil || left != 0 {
		t.Fatalf("unfinished objects after FinishPartial: %d, %v", left, err)
	}

	// One deleted midway leaves nothing, and an empty one finishes empty.
	const other = "partialkey0002"
	if _, err := p.WritePartial(ctx, other, 0, bytes.NewReader(content[:6<<20])); err != nil {
		t.Fatal(err)
	}
	if err := p.WalkPartials(ctx, func(i blob.Info) error {
		if i.Key != other || i.Size != 6<<20 {
			t.Errorf("WalkPartials: %+v", i)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.DeletePartial(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, other); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat of a deleted unfinished object: %v", err)
	}
	if err := p.WalkPartials(ctx, func(blob.Info) error { left++; return nil }); err != nil || left != 0 {
		t.Fatalf("unfinished objects after DeletePartial: %d, %v", left, err)
	}
	const empty = "partialkey0003"
	if _, err := p.WritePartial(ctx, empty, 0, bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if err := p.FinishPartial(ctx, empty, 0); err != nil {
		t.Fatal(err)
	}
	if i, err := s.Stat(ctx, empty); err != nil || i.Size != 0 {
		t.Fatalf("empty object: %+v %v", i, err)
	}
}
