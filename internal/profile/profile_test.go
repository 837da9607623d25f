package profile_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

func TestProfileOverEveryProtocol(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	for _, p := range testutil.Protocols {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			me := srv.Register(t, p, "before")
			other := srv.Register(t, p, "someone else")
			c := srv.Clients(p, me.Token)

			got, err := c.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
			if err != nil {
				t.Fatalf("GetProfile: %v", err)
			}
			created := got.Msg.GetUser().GetCreatedAt().AsTime()

			// Without a mask, the set fields change; id and created_at are ignored.
			upd, err := c.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{
				User: &foxholev1.User{Id: other.ID, ScreenName: " after ", CreatedAt: timestamppb.New(created.Add(-1e12))},
			}))
			if err != nil {
				t.Fatalf("UpdateProfile: %v", err)
			}
			u := upd.Msg.GetUser()
			if u.GetScreenName() != "after" || u.GetId() != me.ID || !u.GetCreatedAt().AsTime().Equal(created) {
				t.Errorf("after update: %v", u)
			}
			if !u.GetUpdatedAt().AsTime().After(created) {
				t.Errorf("updated_at %v not after created_at %v", u.GetUpdatedAt().AsTime(), created)
			}

			// With a mask, only the named fields change, by proto or JSON name.
			// (Over JSON, the mask travels as "screenName" and arrives as
			// "screen_name"; binary protocols may carry either.)
			paths := []string{"screen_name", "screenName"}
			if string(p) == "connect-json" {
				paths = paths[:1]
			}
			for _, path := range paths {
				upd, err = c.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{
					User:       &foxholev1.User{ScreenName: "masked " + path},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{path}},
				}))
				if err != nil || upd.Msg.GetUser().GetScreenName() != "masked "+path {
					t.Errorf("UpdateProfile with mask %q: %v, %v", path, upd, err)
				}
			}

			pub, err := c.Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: other.ID}))
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if pub.Msg.GetUser().GetScreenName() != "someone else" || pub.Msg.GetUser().GetId() != other.ID {
				t.Errorf("GetUser = %v", pub.Msg.GetUser())
			}
			_, err = c.Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: "nobody"}))
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("GetUser(unknown) = %v, want not_found", err)
			}
		})
	}
}

func TestUpdateProfileRejectsBadInput(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	p := client.Connect
	me := srv.Register(t, p, "unchanged")
	c := srv.Clients(p, me.Token)
	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
	cases := []struct {
		name string
		req  *foxholev1.UpdateProfileRequest
	}{
		{"no user", &foxholev1.UpdateProfileRequest{UpdateMask: mask("screen_name")}},
		{"nothing set", &foxholev1.UpdateProfileRequest{User: &foxholev1.User{}}},
		{"masked empty name", &foxholev1.UpdateProfileRequest{User: &foxholev1.User{}, UpdateMask: mask("screen_name")}},
		{"blank name", &foxholev1.UpdateProfileRequest{User: &foxholev1.User{ScreenName: " \t "}}},
		{"65 characters", &foxholev1.UpdateProfileRequest{User: &foxholev1.User{ScreenName: strings.Repeat("é", 65)}}},
		{"control character", &foxholev1.UpdateProfileRequest{User: &foxholev1.User{ScreenName: "bell\a"}}},
		{"newline inside", &foxholev1.UpdateProfileRequest{User: &foxholev1.User{ScreenName: "two\nlines"}}},
		{"id in mask", &foxholev1.UpdateProfileRequest{User: &foxholev1.User{Id: "x"}, UpdateMask: mask("id")}},
		{"created_at in mask", &foxholev1.UpdateProfileRequest{User: &foxholev1.User{}, UpdateMask: mask("created_at")}},
		{"unknown path", &foxholev1.UpdateProfileRequest{User: &foxholev1.User{ScreenName: "x"}, UpdateMask: mask("screen_name", "email")}},
	}
	for _, tc := range cases {
		_, err := c.Profile.UpdateProfile(context.Background(), connect.NewRequest(tc.req))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v, want invalid_argument", tc.name, err)
		}
	}
	got, err := c.Profile.GetProfile(context.Background(), connect.NewRequest(&foxholev1.GetProfileRequest{}))
	if err != nil || got.Msg.GetUser().GetScreenName() != "unchanged" {
		t.Errorf("profile changed by rejected updates: %v, %v", got, err)
	}
}

func TestScreenNamesInAnyScript(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	p := client.ConnectJSON
	for _, name := range []string{"Ada", "José Núñez", "李小龍", "Ελένη", "🦊 fox", strings.Repeat("狐", 64), "a"} {
		reg, err := srv.Clients(p, "").Auth.Register(context.Background(), connect.NewRequest(&foxholev1.RegisterRequest{ScreenName: name}))
		if err != nil {
			t.Errorf("Register(%q): %v", name, err)
			continue
		}
		if reg.Msg.GetUser().GetScreenName() != name {
			t.Errorf("Register(%q) stored %q", name, reg.Msg.GetUser().GetScreenName())
		}
	}
}

func BenchmarkGetProfile(b *testing.B) {
	srv := testutil.Start(b)
	for _, p := range testutil.Protocols {
		b.Run(string(p), func(b *testing.B) {
			u := srv.Register(b, p, "bench")
			c := srv.Clients(p, u.Token)
			b.ReportAllocs()
			b.SetParallelism(16) // 16 callers per core: measure throughput, not one round trip
			b.RunParallel(func(pb *testing.PB) {
				req := connect.NewRequest(&foxholev1.GetProfileRequest{})
				for pb.Next() {
					if _, err := c.Profile.GetProfile(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func TestBioAndAttributes(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	for _, p := range testutil.Protocols {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			me := srv.Register(t, p, "me")
			c := srv.Clients(p, me.Token)
			attrs, _ := structpb.NewStruct(map[string]any{"pronouns": "she/her", "links": []any{"https://a.example"}, "level": 3.0, "nested": map[string]any{"ok": true}})
			upd, err := c.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{
				User: &foxholev1.User{Bio: "  Line one\n\tline two  ", Attributes: attrs},
			}))
			if err != nil {
				t.Fatalf("UpdateProfile: %v", err)
			}
			u := upd.Msg.GetUser()
			if u.GetBio() != "Line one\n\tline two" || !proto.Equal(u.GetAttributes(), attrs) || u.GetScreenName() != "me" {
				t.Errorf("after update: %v", u)
			}
			// Another user sees them; the cached profile has them too.
			other := srv.Clients(p, srv.Register(t, p, "other").Token)
			for range 2 {
				pub, err := other.Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: me.ID}))
				if err != nil || pub.Msg.GetUser().GetBio() != u.GetBio() || !proto.Equal(pub.Msg.GetUser().GetAttributes(), attrs) {
					t.Errorf("GetUser = %v, %v", pub, err)
				}
			}
			// A mask clears the bio alone.
			upd, err = c.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{
				User: &foxholev1.User{}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"bio"}},
			}))
			if err != nil || upd.Msg.GetUser().GetBio() != "" || !proto.Equal(upd.Msg.GetUser().GetAttributes(), attrs) {
				t.Errorf("clear bio: %v, %v", upd, err)
			}
			upd, err = c.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{
				User: &foxholev1.User{}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"attributes"}},
			}))
			if err != nil || upd.Msg.GetUser().GetAttributes() != nil {
				t.Errorf("clear attributes: %v, %v", upd, err)
			}
		})
	}
}

func TestBioAndAttributesRejectBadInput(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	p := client.Connect
	me := srv.Register(t, p, "unchanged")
	c := srv.Clients(p, me.Token)
	deep := map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": map[string]any{"e": 1.0}}}}}
	mk := func(m map[string]any) *structpb.Struct { s, _ := structpb.NewStruct(m); return s }
	cases := []struct {
		name string
		user *foxholev1.User
	}{
		{"501 characters", &foxholev1.User{Bio: strings.Repeat("é", 501)}},
		{"bell in bio", &foxholev1.User{Bio: "ding\a"}},
		{"too big", &foxholev1.User{Attributes: mk(map[string]any{"x": strings.Repeat("y", 4100)})}},
		{"too deep", &foxholev1.User{Attributes: mk(deep)}},
		{"empty key", &foxholev1.User{Attributes: mk(map[string]any{"": "x"})}},
		{"long key", &foxholev1.User{Attributes: mk(map[string]any{strings.Repeat("k", 65): "x"})}},
		{"control in value", &foxholev1.User{Attributes: mk(map[string]any{"k": "a\x00b"})}},
		{"control in key", &foxholev1.User{Attributes: mk(map[string]any{"k\n": "x"})}},
		{"good bio, bad attributes", &foxholev1.User{Bio: "fine", Attributes: mk(map[string]any{"k": "\x1b[31m"})}},
	}
	for _, tc := range cases {
		_, err := c.Profile.UpdateProfile(context.Background(), connect.NewRequest(&foxholev1.UpdateProfileRequest{User: tc.user}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v, want invalid_argument", tc.name, err)
		}
	}
	_, err := c.Profile.UpdateProfile(context.Background(), connect.NewRequest(&foxholev1.UpdateProfileRequest{
		User: &foxholev1.User{AvatarUrl: "https://evil.example/x.png"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"avatar_url"}},
	}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("avatar_url in mask: %v, want invalid_argument", err)
	}
	got, err := c.Profile.GetProfile(context.Background(), connect.NewRequest(&foxholev1.GetProfileRequest{}))
	if err != nil || got.Msg.GetUser().GetBio() != "" || got.Msg.GetUser().GetAttributes() != nil {
		t.Errorf("profile changed by rejected updates: %v, %v", got, err)
	}
}
