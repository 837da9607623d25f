package files_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

func TestObjectStoreOutageIsUnavailable(t *testing.T) {
	m := testutil.StartMinIO(t)
	srv := testutil.Start(t, func(c *config.Config) {
		c.S3 = config.S3{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "outage"}
	})
	p := client.GRPC
	u := srv.Register(t, p, "unlucky")
	c := srv.Clients(p, u.Token)
	ctx := context.Background()

	// Uploads in progress when MinIO goes away: a PUT and a stream.
	put, putStatus := stalledPut(t, srv, u.Token, "put")
	stream := c.File.UploadFileStream(ctx)
	stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "stream"}}})
	stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: make([]byte, 64<<10)}})
	m.Stop()

	put.Write(make([]byte, 64<<10))
	put.Close()
	if st := <-putStatus; st != http.StatusServiceUnavailable {
		t.Errorf("PUT during an outage: %d, want 503", st)
	}
	stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: make([]byte, 64<<10)}})
	if _, err := stream.CloseAndReceive(); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("UploadFileStream during an outage: %v, want unavailable", err)
	}
	_, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "unary", Content: []byte("x")}))
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "object store") {
		t.Errorf("UploadFile during an outage: %v, want unavailable naming the object store", err)
	}
	list, err := c.File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
	if err != nil || len(list.Msg.GetFiles()) != 0 {
		t.Errorf("files after failed uploads: %v, %v", fileIDs(list.Msg.GetFiles()), err)
	}
}
