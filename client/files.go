package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// ChunkSize is how much content one message of an upload stream carries,
// well within the server's bound on a message.
const ChunkSize = 256 << 10

// Upload stores the content read from r as a file named name, streaming it
// in chunks, so that its size is bounded by the server's limit only.
// contentType may be empty: the server detects it.
func (c *Client) Upload(ctx context.Context, name, contentType string, r io.Reader) (*foxholev1.File, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := c.File.UploadFileStream(ctx)
	err := stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{
		Metadata: &foxholev1.FileMetadata{Name: name, ContentType: contentType},
	}})
	buf := make([]byte, ChunkSize)
	for err == nil {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			err = stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: buf[:n]}})
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			// Abandon the upload: the server stores nothing of a stream
			// that does not end normally.
			cancel()
			_, _ = stream.CloseAndReceive()
			return nil, fmt.Errorf("read %s: %w", name, rerr)
		}
	}
	// A failed Send means the server answered early (a limit, a refusal):
	// the answer tells why.
	res, cerr := stream.CloseAndReceive()
	if cerr != nil {
		return nil, cerr
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return res.Msg.GetFile(), nil
}

// Download writes the content of the file id to w and returns the file.
// start, when set, is called with the file's metadata before the first
// byte is written (to size a progress bar, say).
func (c *Client) Download(ctx context.Context, id string, w io.Writer, start func(*foxholev1.File)) (*foxholev1.File, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.File.DownloadFile(ctx, connect.NewRequest(&foxholev1.DownloadFileRequest{Id: id}))
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	var file *foxholev1.File
	var n int64
	for stream.Receive() {
		msg := stream.Msg()
		if f := msg.GetFile(); f != nil && file == nil {
			file = f
			if start != nil {
				start(f)
			}
		}
		if len(msg.GetChunk()) > 0 {
			if file == nil {
				return nil, errors.New("download: content before the file's metadata")
			}
			m, err := w.Write(msg.GetChunk())
			n += int64(m)
			if err != nil {
				return nil, err
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	if file == nil {
		return nil, errors.New("download: the stream carried no file")
	}
	if n != file.GetSize() {
		return nil, fmt.Errorf("download: got %d of %d bytes", n, file.GetSize())
	}
	return file, nil
}
