package server

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// probeStreamBytes is all a reflection stream may send (Body_BODY_PROBE).
const probeStreamBytes = 64 << 10

// envelopeSlack covers what a protocol adds around a message: gRPC's
// 5-byte prefix, gRPC-Web's trailers frame.
const envelopeSlack = 1 << 10

// maxChunkBytes is the largest chunk of content one UploadFileStream
// message may carry, whatever UploadFile's own limit is.
const maxChunkBytes = 4 << 20

// uploadMessageBytes bounds one upload message: UploadFile's largest
// content as base64 in JSON (4/3 of it), plus room for the metadata.
func uploadMessageBytes(unaryMax int64) int64 {
	return unaryMax/3*4 + 64<<10
}

// uploadReadMax bounds every message of the upload procedures, which share
// one handler: the largest UploadFile, or the largest stream chunk.
func uploadReadMax(unaryMax int64) int64 {
	return max(uploadMessageBytes(unaryMax), uploadMessageBytes(maxChunkBytes))
}

// compressedBody reports whether a request says its body is compressed, in
// any of the protocols' headers.
func compressedBody(h http.Header) bool {
	for _, k := range []string{"Content-Encoding", "Connect-Content-Encoding", "Grpc-Encoding"} {
		if v := h.Get(k); v != "" && !strings.EqualFold(v, "identity") {
			return true
		}
	}
	return false
}

// writeUnknown answers a request for a procedure or path that does not
// exist: `unimplemented`, which the Connect protocol sends as HTTP 404 on
// unary calls (Connect's error writer would say 501, a server error).
func writeUnknown(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if len(path) > 200 {
		path = path[:200] + "…"
	}
	ce := connect.NewError(connect.CodeUnimplemented, fmt.Errorf("no procedure or route %s", strings.ToValidUTF8(path, "?")))
	setCode(r.Context(), ce)
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/grpc") || strings.HasPrefix(ct, "application/connect+") {
		_ = connect.NewErrorWriter().Write(w, r, ce)
		return
	}
	if r.Method == http.MethodPost && (strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/proto")) {
		// A Connect unary error body.
		writeJSON(w, httpStatus(ce), map[string]string{"code": ce.Code().String(), "message": ce.Message()})
		return
	}
	writeJSONError(w, ce)
}

// inflationCap is gzip for request bodies that stops inflating a little
// past limit bytes. connect-go reads a message one byte past its read limit
// and then inflates the rest to report the message's size: for a 600 KB
// gzip bomb that is 600 MiB of work, which this cuts short.
func inflationCap(limit int64) connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &cappedGzip{limit: limit} },
		func() connect.Compressor { return gzip.NewWriter(nil) },
	)
}

type cappedGzip struct {
	r        *gzip.Reader
	limit, n int64
}

func (c *cappedGzip) Read(p []byte) (int, error) {
	if c.n > c.limit {
		return 0, fmt.Errorf("message inflates past %d bytes", c.limit)
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *cappedGzip) Reset(r io.Reader) error {
	c.n = 0
	if c.r == nil {
		var err error
		c.r, err = gzip.NewReader(r)
		return err
	}
	return c.r.Reset(r)
}

func (c *cappedGzip) Close() error {
	if c.r == nil {
		return nil
	}
	return c.r.Close()
}
