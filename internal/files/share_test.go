package files_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

func get(t *testing.T, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// TestShareLinks: a link serves the bytes (Range, HEAD) without a token,
// as an attachment; revoking it, its expiry and deleting the file each
// make it answer 404; links are the owner's alone and bounded per user.
func TestShareLinks(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MaxSharesPerUser = 3 })
	u := srv.Register(t, client.Connect, "sharer")
	eve := srv.Register(t, client.Connect, "eve")
	c, ce := srv.Clients(client.Connect, u.Token), srv.Clients(client.Connect, eve.Token)
	ctx := context.Background()
	html := []byte("<!DOCTYPE html><html><script>alert(1)</script></html>" + string(bytes.Repeat([]byte("x"), 5000)))
	up, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "page.html", Content: html}))
	if err != nil {
		t.Fatal(err)
	}
	id := up.Msg.GetFile().GetId()
	share := func(cl *client.Client, id string, ttl time.Duration) (*foxholev1.Share, error) {
		req := &foxholev1.ShareFileRequest{Id: id}
		if ttl > 0 {
			req.ExpiresIn = durationpb.New(ttl)
		}
		res, err := cl.File.ShareFile(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetShare(), nil
	}
	sh, err := share(c, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sh.GetExpiresAt() != nil || sh.GetFileId() != id {
		t.Fatalf("share %v", sh)
	}
	res, body := get(t, "GET", sh.GetUrl())
	if res.StatusCode != 200 || !bytes.Equal(body, html) {
		t.Fatalf("GET link: %d, %d bytes", res.StatusCode, len(body))
	}
	h := res.Header
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != "sandbox" ||
		h.Get("Content-Disposition") != `attachment; filename=page.html` {
		t.Errorf("an HTML file's link answers with %v: it must be an attachment that never runs", h)
	}
	if res, body := get(t, "GET", sh.GetUrl(), "Range", "bytes=10-19"); res.StatusCode != 206 || !bytes.Equal(body, html[10:20]) {
		t.Errorf("Range: %d %q", res.StatusCode, body)
	}
	if res, body := get(t, "HEAD", sh.GetUrl()); res.StatusCode != 200 || len(body) != 0 || res.ContentLength != int64(len(html)) {
		t.Errorf("HEAD: %d, %d bytes, length %d", res.StatusCode, len(body), res.ContentLength)
	}

	// Another user can neither share the file nor revoke the link.
	if _, err := share(ce, id, 0); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("sharing another user's file: %v", err)
	}
	if _, err := ce.File.RevokeShare(ctx, connect.NewRequest(&foxholev1.RevokeShareRequest{Id: sh.GetId()})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("revoking another user's link: %v", err)
	}
	if res, _ := get(t, "GET", sh.GetUrl()); res.StatusCode != 200 {
		t.Fatalf("the link after eve's attempts: %d", res.StatusCode)
	}

	short, err := share(c, id, time.Second)
	if err != nil || short.GetExpiresAt() == nil {
		t.Fatalf("a link with an expiry: %v %v", short, err)
	}
	third, err := share(c, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := share(c, id, 0); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("a fourth link: %v", err)
	}
	list, err := c.File.ListShares(ctx, connect.NewRequest(&foxholev1.ListSharesRequest{FileId: id}))
	if err != nil || len(list.Msg.GetShares()) != 3 {
		t.Fatalf("ListShares: %v %v", list, err)
	}
	if l, err := ce.File.ListShares(ctx, connect.NewRequest(&foxholev1.ListSharesRequest{})); err != nil || len(l.Msg.GetShares()) != 0 {
		t.Errorf("eve lists %v, %v", l, err)
	}

	// Revocation answers 404 at once.
	if _, err := c.File.RevokeShare(ctx, connect.NewRequest(&foxholev1.RevokeShareRequest{Id: sh.GetId()})); err != nil {
		t.Fatal(err)
	}
	if res, _ := get(t, "GET", sh.GetUrl()); res.StatusCode != 404 {
		t.Errorf("a revoked link: %d", res.StatusCode)
	}
	// Expiry too, and an expired link no longer counts.
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, _ := get(t, "HEAD", short.GetUrl())
		if res.StatusCode == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the short link did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := share(c, id, 0); err != nil {
		t.Fatalf("a link once others expired: %v", err)
	}
	// Deleting the file ends its links.
	if _, err := c.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: id})); err != nil {
		t.Fatal(err)
	}
	if res, _ := get(t, "GET", third.GetUrl()); res.StatusCode != 404 {
		t.Errorf("a deleted file's link: %d", res.StatusCode)
	}
	if res, _ := get(t, "GET", srv.URL+"/files/shared/not-a-share"); res.StatusCode != 404 {
		t.Errorf("a made-up link: %d", res.StatusCode)
	}
}
