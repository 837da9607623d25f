package avatar_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/avatar"
	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

func picture(t testing.TB, w, h int, format string) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&b, img, nil)
	} else {
		err = png.Encode(&b, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withEXIF inserts an APP1 (EXIF) segment carrying marker after the SOI of
// a JPEG, as a camera would with its GPS position.
func withEXIF(jpg []byte, marker string) []byte {
	payload := append([]byte("Exif\x00\x00"), marker...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(append(out, seg...), payload...)
	return append(out, jpg[2:]...)
}

// bomb is a valid PNG header claiming side × side pixels, with a tiny
// compressed body: a few hundred bytes that would take side² × 4 bytes to
// decode.
func bomb(side uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		binary.Write(&b, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], side)
	binary.BigEndian.PutUint32(ihdr[4:], side)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func put(t *testing.T, url, token string, body []byte, contentType string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+"/avatar", bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestAvatarSetServeRemove(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	me := srv.Register(t, client.Connect, "pictured")
	other := srv.Register(t, client.Connect, "viewer")
	ctx := context.Background()

	// A JPEG with EXIF sent as image/png named .gif: the bytes decide.
	orig := withEXIF(picture(t, 300, 200, "jpeg"), "GPS 51.5N 0.12W SECRET")
	resp, body := put(t, srv.URL, me.Token, orig, "image/png")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /avatar = %d %s", resp.StatusCode, body)
	}
	pub, err := srv.Clients(client.Connect, other.Token).Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: me.ID}))
	if err != nil {
		t.Fatal(err)
	}
	avatarURL := pub.Msg.GetUser().GetAvatarUrl()
	if !strings.HasPrefix(avatarURL, srv.URL+"/avatars/"+me.ID+"?v=") || !strings.Contains(string(body), avatarURL) {
		t.Fatalf("avatarUrl = %q (PUT answered %s)", avatarURL, body)
	}

	for _, tc := range []struct {
		query string
		side  int
	}{{"", 128}, {"&size=32", 32}, {"&size=100", 128}, {"&size=512", 512}} {
		resp, img := get(t, avatarURL+tc.query)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s", tc.query, resp.StatusCode, img)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(img))
		if err != nil || cfg.Width != tc.side || cfg.Height != tc.side || format != "jpeg" {
			t.Errorf("size %q: %dx%d %s %v", tc.query, cfg.Width, cfg.Height, format, err)
		}
		if bytes.Contains(img, []byte("SECRET")) || bytes.Contains(img, []byte("Exif")) {
			t.Errorf("size %q: metadata kept", tc.query)
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || resp.Header.Get("ETag") == "" {
			t.Errorf("headers: %v", resp.Header)
		}
		again, _ := get(t, avatarURL+tc.query, "If-None-Match", resp.Header.Get("ETag"))
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("conditional GET = %d, want 304", again.StatusCode)
		}
	}

	// Bad requests: no avatar, no user, bad size, no token.
	for _, tc := range []struct {
		url  string
		want int
	}{
		{srv.URL + "/avatars/" + other.ID, 404},
		{srv.URL + "/avatars/nobody", 404},
		{avatarURL + "&size=31", 400},
		{avatarURL + "&size=513", 400},
		{avatarURL + "&size=big", 400},
	} {
		if resp, _ := get(t, tc.url); resp.StatusCode != tc.want {
			t.Errorf("GET %s = %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
	if resp, _ := put(t, srv.URL, "", orig, "image/jpeg"); resp.StatusCode != 401 {
		t.Errorf("PUT without a token = %d", resp.StatusCode)
	}

	// A PNG replaces it; the old URL's version no longer matches.
	resp, body = put(t, srv.URL, me.Token, picture(t, 64, 64, "png"), "application/octet-stream")
	if resp.StatusCode != 200 {
		t.Fatalf("PUT png = %d %s", resp.StatusCode, body)
	}
	if resp, img := get(t, srv.URL+"/avatars/"+me.ID+"?size=64"); resp.StatusCode != 200 || !bytes.HasPrefix(img, []byte("\xff\xd8")) && !bytes.HasPrefix(img, []byte("\x89PNG")) {
		t.Errorf("after replacing: %d", resp.StatusCode)
	}

	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/avatar", nil)
	req.Header.Set("Authorization", "Bearer "+me.Token)
	dresp, err := http.DefaultClient.Do(req)
	if err != nil || dresp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /avatar: %v %v", dresp, err)
	}
	dresp.Body.Close()
	if resp, _ := get(t, srv.URL+"/avatars/"+me.ID); resp.StatusCode != 404 {
		t.Errorf("after DELETE: %d", resp.StatusCode)
	}
	prof, err := srv.Clients(client.Connect, me.Token).Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
	if err != nil || prof.Msg.GetUser().GetAvatarUrl() != "" {
		t.Errorf("after DELETE the profile is %v, %v", prof, err)
	}
	// Nothing of either avatar is left in the store.
	n := 0
	srv.App.Blobs().Walk(ctx, func(blob.Info) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d objects left after DELETE /avatar", n)
	}
}

func TestAvatarRefusesBadUploads(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t, func(c *config.Config) { c.Accounts.AvatarMaxBytes = 64 << 10 })
	me := srv.Register(t, client.Connect, "careful")
	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"empty", nil, 400},
		{"text", []byte("hello, not an image"), 400},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 400},
		{"truncated png", picture(t, 64, 64, "png")[:60], 400},
		{"too many pixels", picture(t, 4097, 1, "png"), 400},
		{"bomb", bomb(50000), 400},
		{"too many bytes", append(picture(t, 8, 8, "png"), make([]byte, 65<<10)...), 413},
	}
	for _, tc := range cases {
		resp, body := put(t, srv.URL, me.Token, tc.body, "image/png")
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	if resp, _ := get(t, srv.URL+"/avatars/"+me.ID); resp.StatusCode != 404 {
		t.Errorf("a refused upload set an avatar: %d", resp.StatusCode)
	}
}

// TestBombIsRefusedCheaply measures what refusing a 50,000 × 50,000 PNG
// (10 GB decoded) allocates: the header is read, nothing is decoded.
func TestBombIsRefusedCheaply(t *testing.T) {
	svc := avatar.NewService(nil, nil, avatar.Options{MaxBytes: 5 << 20, MaxSide: 4096})
	b := bomb(50000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := svc.Check(b)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("the bomb passed the check")
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("refusing a %d-byte PNG of 50000x50000 allocated %d bytes", len(b), alloc)
	if alloc > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", alloc)
	}
}

// TestSweepKeepsAvatars: the orphan sweep asks the store whether a key is
// in use; an avatar's key and its thumbnails' are, until it is replaced.
func TestSweepKeepsAvatars(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	me := srv.Register(t, client.Connect, "kept")
	ctx := context.Background()
	if resp, body := put(t, srv.URL, me.Token, picture(t, 40, 40, "png"), "image/png"); resp.StatusCode != 200 {
		t.Fatalf("PUT = %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, srv.URL+"/avatars/"+me.ID+"?size=64"); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	u, err := srv.App.Store().UserByID(ctx, me.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{u.Avatar, avatar.ThumbKey(u.Avatar, 64)} {
		if used, err := srv.App.Store().KeyInUse(ctx, key); err != nil || !used {
			t.Errorf("KeyInUse(%s) = %v, %v; want true", key, used, err)
		}
	}
	if used, _ := srv.App.Store().KeyInUse(ctx, avatar.ThumbKey("0123456789abcdefghjkmnpqrs", 64)); used {
		t.Error("an unknown thumbnail key is in use")
	}
}

// TestLargestAvatarMemory logs what setting the largest avatar allowed
// (4096 × 4096) allocates, against what refusing the bomb does.
func TestLargestAvatarMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a 4096x4096 picture")
	}
	srv := testutil.Start(t, func(c *config.Config) { c.Accounts.AvatarMaxBytes = 64 << 20 })
	me := srv.Register(t, client.Connect, "large")
	big := picture(t, 4096, 4096, "jpeg")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, body := put(t, srv.URL, me.Token, big, "image/jpeg")
	runtime.ReadMemStats(&after)
	if resp.StatusCode != 200 {
		t.Fatalf("PUT = %d %s", resp.StatusCode, body)
	}
	t.Logf("a %d-byte 4096x4096 JPEG: %d MiB allocated in all to set it", len(big), (after.TotalAlloc-before.TotalAlloc)>>20)
}
