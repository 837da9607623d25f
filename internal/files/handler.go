package files

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

var _ foxholev1connect.FileServiceHandler = (*Handler)(nil)

// errNoSlot is a transfer that reached its handler without the slot its
// policy declares: a server that does not enforce policies.
var errNoSlot = errors.New("transfer reached its handler without its slot")

// ChunkSize is the size of the content chunks DownloadFile sends.
const ChunkSize = 256 << 10

// Handler serves foxhole.v1.FileService.
type Handler struct{ svc *Service }

// NewHandler returns the FileService handler for svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// UploadFile implements foxholev1connect.FileServiceHandler.
func (h *Handler) UploadFile(ctx context.Context, req *connect.Request[foxholev1.UploadFileRequest]) (*connect.Response[foxholev1.UploadFileResponse], error) {
	owner, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if !call.From(ctx).HoldsSlot() {
		return nil, errNoSlot
	}
	content := req.Msg.GetContent()
	if limit := h.svc.opt.UnaryMaxBytes; int64(len(content)) > limit {
		return nil, errs.New(errs.ErrResourceExhausted,
			"UploadFile takes at most %d bytes; send larger files with UploadFileStream or PUT /files/{name}", limit)
	}
	f, err := h.svc.Upload(ctx, owner, req.Msg.GetName(), req.Msg.GetContentType(), bytes.NewReader(content), int64(len(content)), h.svc.opt.UnaryMaxBytes)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.UploadFileResponse{File: FileProto(f)}), nil
}

// UploadFileStream implements foxholev1connect.FileServiceHandler.
func (h *Handler) UploadFileStream(ctx context.Context, stream *connect.ClientStream[foxholev1.UploadFileStreamRequest]) (*connect.Response[foxholev1.UploadFileStreamResponse], error) {
	owner, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	rec := call.From(ctx)
	if !rec.HoldsSlot() {
		return nil, errNoSlot
	}
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, err
		}
		return nil, errs.Invalidf("metadata", "the stream is empty; send metadata first")
	}
	md := stream.Msg().GetMetadata()
	if md == nil {
		return nil, errs.Invalidf("metadata", "must be the first message of the stream")
	}
	chunks := &chunkReader{ctx: ctx, stream: stream, idle: NewIdle(rec.Deadlines().Read, h.svc.opt.UploadIdleTimeout), pace: h.svc.NewPace("upload")}
	f, err := h.svc.Upload(ctx, owner, md.GetName(), md.GetContentType(), chunks, -1, 0)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.UploadFileStreamResponse{File: FileProto(f)}), nil
}

// chunkReader reads the content that follows the metadata of an upload
// stream, one chunk message at a time, each within the idle timeout.
type chunkReader struct {
	ctx    context.Context
	stream *connect.ClientStream[foxholev1.UploadFileStreamRequest]
	idle   Idle
	pace   *Pace
	buf    []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		c.idle.Renew()
		if !c.stream.Receive() {
			err := c.stream.Err()
			if err == nil {
				c.idle.Clear()
				return 0, io.EOF
			}
			if e := c.idle.Expired(err); e != nil {
				return 0, e
			}
			// Connect's own refusals (a message over the size limit, a
			// malformed one) speak to the client; anything else is the
			// transport's business.
			if code := connect.CodeOf(err); code == connect.CodeResourceExhausted || code == connect.CodeInvalidArgument {
				return 0, err
			}
			zerolog.Ctx(c.ctx).Debug().Err(err).Msg("upload stream broke off")
			return 0, ErrInterrupted
		}
		if c.stream.Msg().GetMetadata() != nil {
			return 0, errs.Invalidf("metadata", "must be sent once, in the first message")
		}
		c.buf = c.stream.Msg().GetChunk()
		if err := c.pace.Add(len(c.buf)); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// GetFile implements foxholev1connect.FileServiceHandler.
func (h *Handler) GetFile(ctx context.Context, req *connect.Request[foxholev1.GetFileRequest]) (*connect.Response[foxholev1.GetFileResponse], error) {
	owner, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	f, err := h.svc.Get(ctx, owner, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	u, exp, err := h.svc.DownloadURL(ctx, f)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(u, "/") {
		u = call.From(ctx).BaseURL() + u
	}
	return connect.NewResponse(&foxholev1.GetFileResponse{
		File:                 FileProto(f),
		DownloadUrl:          u,
		DownloadUrlExpiresAt: timestamppb.New(exp),
	}), nil
}

// DownloadFile implements foxholev1connect.FileServiceHandler.
func (h *Handler) DownloadFile(ctx context.Context, req *connect.Request[foxholev1.DownloadFileRequest], stream *connect.ServerStream[foxholev1.DownloadFileResponse]) error {
	owner, err := auth.Caller(ctx)
	if err != nil {
		return err
	}
	f, rc, err := h.svc.Open(ctx, owner, req.Msg.GetId())
	if err != nil {
		return err
	}
	defer rc.Close()
	rec := call.From(ctx)
	if !rec.HoldsSlot() {
		return errNoSlot
	}
	setWrite, timeout := rec.Deadlines().Write, h.svc.opt.DownloadTimeout
	pace := h.svc.NewPace("download")
	buf := make([]byte, ChunkSize)
	msg := &foxholev1.DownloadFileResponse{File: FileProto(f)}
	for {
		n, err := io.ReadFull(rc, buf)
		if n > 0 || msg.File != nil {
			msg.Chunk = buf[:n]
			// Each chunk gets its own time to reach the client. The last
			// deadline stays set for the end of the stream; HTTP/1.1 lifts it
			// after the response, and on HTTP/2 it is the stream's own.
			if timeout > 0 {
				_ = setWrite(time.Now().Add(pace.Bound(timeout)))
			}
			if err := stream.Send(msg); err != nil {
				return err
			}
			if err := pace.Add(n); err != nil {
				return err
			}
			msg.File = nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// ListFiles implements foxholev1connect.FileServiceHandler.
func (h *Handler) ListFiles(ctx context.Context, req *connect.Request[foxholev1.ListFilesRequest]) (*connect.Response[foxholev1.ListFilesResponse], error) {
	owner, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	files, next, err := h.svc.List(ctx, owner, int(req.Msg.GetPageSize()), req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}
	res := &foxholev1.ListFilesResponse{NextPageToken: next, Files: make([]*foxholev1.File, len(files))}
	for i := range files {
		res.Files[i] = FileProto(&files[i])
	}
	return connect.NewResponse(res), nil
}

// DeleteFile implements foxholev1connect.FileServiceHandler.
func (h *Handler) DeleteFile(ctx context.Context, req *connect.Request[foxholev1.DeleteFileRequest]) (*connect.Response[foxholev1.DeleteFileResponse], error) {
	owner, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Delete(ctx, owner, req.Msg.GetId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.DeleteFileResponse{}), nil
}

// FileProto returns the API view of f.
func FileProto(f *store.File) *foxholev1.File {
	return &foxholev1.File{
		Id:          f.ID,
		Name:        f.Name,
		Size:        f.Size,
		ContentType: f.ContentType,
		Sha256:      f.SHA256,
		CreatedAt:   timestamppb.New(time.UnixMicro(f.CreatedAt)),
	}
}

// ShareFile implements foxholev1connect.FileServiceHandler.
func (h *Handler) ShareFile(ctx context.Context, req *connect.Request[foxholev1.ShareFileRequest]) (*connect.Response[foxholev1.ShareFileResponse], error) {
	owner, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var ttl time.Duration
	if req.Msg.GetExpiresIn() != nil {
		ttl = req.Msg.GetExpiresIn().AsDuration()
	}
	sh, err := h.svc.Share(ctx, owner, req.Msg.GetId(), ttl)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.ShareFileResponse{Share: ShareProto(sh, call.From(ctx).BaseURL())}), nil
}

// RevokeShare implements foxholev1connect.FileServiceHandler.
func (h *Handler) RevokeShare(ctx context.Context, req *connect.Request[foxholev1.RevokeShareRequest]) (*connect.Response[foxholev1.RevokeShareResponse], error) {
	owner, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.RevokeShare(ctx, owner, req.Msg.GetId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.RevokeShareResponse{}), nil
}

// ListShares implements foxholev1connect.FileServiceHandler.
func (h *Handler) ListShares(ctx context.Context, req *connect.Request[foxholev1.ListSharesRequest]) (*connect.Response[foxholev1.ListSharesResponse], error) {
	owner, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	shares, err := h.svc.ListShares(ctx, owner, req.Msg.GetFileId())
	if err != nil {
		return nil, err
	}
	base := call.From(ctx).BaseURL()
	res := &foxholev1.ListSharesResponse{Shares: make([]*foxholev1.Share, len(shares))}
	for i := range shares {
		res.Shares[i] = ShareProto(&shares[i], base)
	}
	return connect.NewResponse(res), nil
}
