package realtime_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// crowd registers n users and keeps a quiet stream of each open; it
// returns them and who ListPresence should list.
func crowd(t *testing.T, srv *testutil.Server, n int) ([]testutil.User, map[string]string) {
	t.Helper()
	var users []testutil.User
	want := map[string]string{}
	for i := range n {
		u := srv.Register(t, client.Connect, fmt.Sprint("member ", i))
		subscribe(t, srv, client.Connect, u.Token, &foxholev1.SubscribeRequest{SkipPresence: true})
		users = append(users, u)
		want[u.ID] = fmt.Sprint("member ", i)
	}
	return users, want
}

// ListPresence answers a page at a time over every protocol: pages of the
// size asked, in order of id, each user once, the last without a token; a
// token it did not issue and a page too large are refused.
func TestListPresencePagesOverEveryProtocol(t *testing.T) {
	srv := testutil.Start(t, quickPresence, func(c *config.Config) { c.ListRate, c.ListBurst = 1000, 1000 })
	users, want := crowd(t, srv, 7)
	token := users[0].Token
	waitListed(t, srv, token, want)
	for _, p := range testutil.Protocols {
		c := srv.Clients(p, token)
		got := map[string]string{}
		var sizes []int
		var last string
		page := ""
		for {
			res, err := c.Realtime.ListPresence(context.Background(), connect.NewRequest(&foxholev1.ListPresenceRequest{PageSize: 3, PageToken: page}))
			if err != nil {
				t.Fatalf("%s: ListPresence: %v", p, err)
			}
			sizes = append(sizes, len(res.Msg.GetUsers()))
			for _, u := range res.Msg.GetUsers() {
				if u.GetId() <= last {
					t.Errorf("%s: %s after %s: not in order of id", p, u.GetId(), last)
				}
				last = u.GetId()
				got[u.GetId()] = u.GetScreenName()
			}
			if page = res.Msg.GetNextPageToken(); page == "" {
				break
			}
		}
		if !slices.Equal(sizes, []int{3, 3, 1}) || !maps.Equal(got, want) {
			t.Errorf("%s: pages of %v listing %v; want pages of [3 3 1] listing %v", p, sizes, got, want)
		}
		// No page size: everyone in one page, as before pages.
		res, err := c.Realtime.ListPresence(context.Background(), connect.NewRequest(&foxholev1.ListPresenceRequest{}))
		if err != nil || len(res.Msg.GetUsers()) != 7 || res.Msg.GetNextPageToken() != "" {
			t.Errorf("%s: ListPresence without a page size: %v, %v", p, res, err)
		}
		for _, bad := range []*foxholev1.ListPresenceRequest{{PageToken: "not a token!"}, {PageSize: 1001}, {PageSize: -1}} {
			if _, err := c.Realtime.ListPresence(context.Background(), connect.NewRequest(bad)); connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("%s: ListPresence(%v) = %v; want invalid_argument", p, bad, err)
			}
		}
	}
}

// A snapshot names at most FOXHOLE_PRESENCE_SNAPSHOT_MAX users and says it
// is truncated; the client lists the rest (client.Online.Complete), then
// follows the changes, and sees who ListPresence lists.
func TestPresenceSnapshotPastTheCap(t *testing.T) {
	srv := testutil.Start(t, quickPresence, func(c *config.Config) { c.PresenceSnapshotMax = 3 })
	users, want := crowd(t, srv, 5)
	waitListed(t, srv, users[0].Token, want)

	late := srv.Register(t, client.Connect, "late")
	want[late.ID] = "late"
	s := subscribe(t, srv, client.GRPC, late.Token, &foxholev1.SubscribeRequest{})
	var first *foxholev1.PresenceEvent
	for first == nil {
		select {
		case m := <-s.ch:
			first = m.GetEvent().GetPresence()
		case err := <-s.done:
			t.Fatalf("subscription ended: %v", err)
		case <-time.After(presenceWait):
			t.Fatal("no presence snapshot")
		}
	}
	if !first.GetSnapshot() || !first.GetTruncated() || len(first.GetJoined()) != 3 {
		t.Fatalf("first presence event: %v; want a truncated snapshot of 3 users", first)
	}
	var v view
	v.apply(t, first)
	if !v.Truncated || len(v.Users) != 3 {
		t.Fatalf("after a truncated snapshot: %+v", v.Online)
	}
	if err := v.Complete(context.Background(), srv.Clients(client.Connect, late.Token)); err != nil {
		t.Fatal(err)
	}
	if v.Truncated || !maps.Equal(v.Users, want) {
		t.Fatalf("after Complete: %+v; want %v", v.Online, want)
	}
	// Changes follow as usual.
	more := srv.Register(t, client.Connect, "later")
	subscribe(t, srv, client.Connect, more.Token, &foxholev1.SubscribeRequest{SkipPresence: true})
	want[more.ID] = "later"
	s.presenceUntil(&v, want)
	waitListed(t, srv, late.Token, want)
}
